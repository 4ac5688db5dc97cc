@0xb6b1e58f4c2a9d31;

interface Counter {
  add @0 (amount :Int64, note :Text) -> (total :Int64);
  child @1 () -> (counter :Counter);
  fail @2 (kind :Text, message :Text) -> ();
  echo @3 (value :Text) -> (value :Text);
}

interface Named extends(Counter) {
  name @0 () -> (name :Text);
}

interface Other {
  ping @0 () -> ();
}

struct Entry {
  name @0 :Text;
  counter @1 :Counter;
}

struct Pair {
  left @0 :Int32;
  right @1 :Int32;
}

interface Store {
  put @0 (entry :Entry) -> (size :UInt32);
  get @1 (name :Text) -> (entry :Entry);
  all @2 () -> (entries :List(Entry), counters :List(Counter));
  pair @3 () -> (pair :Pair, sum :Int32);
  callBack @4 (counter :Counter, amount :Int64) -> (total :Int64);
  named @5 NamedParams -> (out :Text);
  blob @6 (data :Data) -> (size :UInt32, data :Data);
  forward @7 (value :Text) -> (value :Text);
  choice @8 (x :Int32, y :Int32) -> (a :Int32, b :Text);
}

struct NamedParams {
  text @0 :Text;
}

interface Streamer {
  push @0 (n :UInt32) -> stream;
  total @1 () -> (count :UInt32, sum :UInt64);
}

interface Slow {
  wait @0 (seconds :Float64) -> (done :Bool);
  count @1 () -> (started :UInt32, cancelled :UInt32, finished :UInt32);
}

# The bootstrap interface of interop_peer.py.
interface Root {
  counter @0 (start :Int64) -> (counter :Counter);
  streamer @1 () -> (streamer :Streamer);
  callBack @2 (counter :Counter, amount :Int64) -> (total :Int64);
  fail @3 (message :Text) -> ();
  echoCap @4 (counter :Counter) -> (counter :Counter);
}

# The status-subscriber pattern of API.md 5.3.5.
interface Example {
  longRunning @0 (seconds :Float64) -> (value :Bool);
  subscribeStatus @1 (subscriber :StatusSubscriber, count :UInt32) -> ();

  interface StatusSubscriber {
    status @0 (value :Bool) -> ();
  }
}

# Results with fields named like asyncio.Future's members: a call's promise is a Future, and
# these names must reach both the member and the pipelined field.
interface Clash {
  make @0 (start :Int64) -> (result :Counter, done :Entry, exception :Int32);
}

# More parameters than a server call passes on the stack (dispatch.rs's vectorcall keywords).
interface Wide {
  sum @0 (a :Int32, b :Int32, c :Int32, d :Int32, e :Int32, f :Int32, g :Int32, h :Int32,
          i :Int32, label :Text) -> (total :Int64, label :Text);
}
