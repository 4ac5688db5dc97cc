@0xe0c2d3a4b5f60718;

# Interfaces of the RPC benchmarks (benchmarks/workloads/rpc.py).

interface Bench {
  add @0 (amount :Int64) -> (total :Int64);
  echo @1 (data :Data) -> (size :UInt32);
  counter @2 (start :Int64) -> (counter :Bench);
}
