//! The synchronous (1.x) API's own reactor: one epoll poller per thread over the thread's
//! sockets (connections and listeners), with a waker other threads use. Nothing here polls on
//! a timer: [`Reactor::wait`] blocks in `epoll_wait` until a socket is ready, the waker fires,
//! the caller's timeout (its next timer) passes or a signal interrupts it (after a spin of at
//! most 50 µs when recent spins caught their event: [`Spin`]).
//!
//! A connection's socket feeds its [`Pipe`] (bytes read go in, bytes the RPC system writes go
//! straight to the socket, the rest kept until it turns writable). The binding drives the
//! loop: it runs the executor when [`Reactor::wanted`] says something woke it.

use std::cell::{Cell, RefCell};
// Keyed by this reactor's own tokens (nothing a peer chooses): the fast hash is safe.
use rustc_hash::FxHashMap as HashMap;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use capnp::message::ReaderOptions;
use capnp::private::capability::ClientHook;
use mio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use mio::{Events, Interest, Poll, Token, Waker};

use crate::connection::{Connection, Side};
use crate::peer::{self, End, Ends};
use crate::pipe::{Pipe, PipeSink};
use crate::EventLoop;

const WAKER: Token = Token(0);
/// Unsent bytes above which the RPC system stops writing until the socket drains.
const HIGH_WATER: usize = 1 << 20;
const READ_CHUNK: usize = 64 * 1024;
/// Turns in a row that may read paired sockets without asking epoll (then one asks, so the
/// other sockets, the waker and signals are never kept waiting behind a busy pair).
const HINTED_TURNS: u32 = 16;
/// The longest a wait looks for readiness without blocking before it blocks (see [`Spin`]):
/// about what one wake-up of a blocked thread costs on a virtual machine.
const SPIN: Duration = Duration::from_micros(50);
/// Waits without a spin after `n` failed spins in a row: `2^min(n, MAX_BACKOFF) - 1`.
const MAX_BACKOFF: u32 = 6;

/// Whether a blocking wait first looks for readiness without blocking, for up to [`SPIN`].
/// A peer answering within microseconds (a server in another process or thread, or a client
/// sending its next call) then costs no wake-up of a blocked thread, which is most of a round
/// trip between processes. A spin that ends in a block (nothing came) makes the next waits
/// block at once, exponentially many of them (1, 3, 7, ... 63) for failures in a row; a spin
/// that catches its event resets that. So an idle loop spins at most once every 64 waits (a
/// thread blocked in one long wait uses no CPU), and a busy machine, where the peer is not
/// running when we spin, soon stops spinning. Never on a single CPU, where a spin could only
/// delay the peer it waits for.
struct Spin {
    allowed: bool,
    /// Failed spins in a row.
    failures: Cell<u32>,
    /// Waits left to block at once.
    skip: Cell<u32>,
}

impl Spin {
    fn new() -> Spin {
        Spin {
            allowed: std::thread::available_parallelism().is_ok_and(|n| n.get() > 1),
            failures: Cell::new(0),
            skip: Cell::new(0),
        }
    }

    /// The spin before a wait of at most `timeout` (zero: block at once).
    fn next(&self, timeout: Option<Duration>) -> Duration {
        if !self.allowed {
            return Duration::ZERO;
        }
        let skip = self.skip.get();
        if skip > 0 {
            self.skip.set(skip - 1);
            return Duration::ZERO;
        }
        timeout.map_or(SPIN, |t| t.min(SPIN))
    }

    /// What a spin of `length` found: `caught`, its event during the spin.
    fn learn(&self, length: Duration, caught: bool) {
        if length.is_zero() {
            return;
        }
        if caught {
            self.failures.set(0);
        } else {
            let n = (self.failures.get() + 1).min(MAX_BACKOFF);
            self.failures.set(n);
            self.skip.set((1 << n) - 1);
        }
    }
}

/// Whether a socket the program passed in is still open (the program has not closed it):
/// asked before every use of a borrowed [`Stream`]'s descriptor.
pub type StillOpen = Box<dyn Fn() -> bool>;

/// A connected socket (TCP or Unix), non-blocking: one of ours (closed when dropped), or the
/// program's own, borrowed ([`Stream::borrowed`]).
pub struct Stream {
    /// `None` only once a borrowed socket's wrapper is dropped (never closed by us).
    kind: Option<Kind>,
    /// Set for a borrowed socket: the reactor uses its descriptor only while this says the
    /// program has not closed it, and never closes it. Closing the program's socket then
    /// ends the connection at once for the peer (as under pycapnp 1.x, whose loop used the
    /// program's descriptor), where a copy of the descriptor would keep it open until the
    /// loop next ran.
    borrowed: Option<StillOpen>,
}

enum Kind {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    pub fn tcp(s: std::net::TcpStream) -> io::Result<Stream> {
        s.set_nonblocking(true)?;
        let _ = s.set_nodelay(true);
        Ok(Stream::of(Kind::Tcp(TcpStream::from_std(s)), None))
    }

    pub fn unix(s: std::os::unix::net::UnixStream) -> io::Result<Stream> {
        s.set_nonblocking(true)?;
        Ok(Stream::of(Kind::Unix(UnixStream::from_std(s)), None))
    }

    /// The program's own socket `fd` (wrapped as a std stream), used only while `still_open`
    /// holds and never closed: the wrapper is forgotten, not dropped, on every path (errors
    /// included). The caller guarantees `still_open` answers false from the moment the
    /// program's socket is closed (it is asked with the interpreter lock held, like every
    /// use, so no close can come between the answer and the use).
    pub fn borrowed(
        fd: std::os::fd::OwnedFd,
        is_unix: bool,
        still_open: StillOpen,
    ) -> io::Result<Stream> {
        use std::mem::ManuallyDrop;
        // Held undroppable until wrapped: an error here must not close the program's socket.
        let kind = if is_unix {
            let s = ManuallyDrop::new(std::os::unix::net::UnixStream::from(fd));
            s.set_nonblocking(true)?;
            Kind::Unix(UnixStream::from_std(ManuallyDrop::into_inner(s)))
        } else {
            let s = ManuallyDrop::new(std::net::TcpStream::from(fd));
            s.set_nonblocking(true)?;
            let _ = s.set_nodelay(true);
            Kind::Tcp(TcpStream::from_std(ManuallyDrop::into_inner(s)))
        };
        Ok(Stream::of(kind, Some(still_open)))
    }

    fn of(kind: Kind, borrowed: Option<StillOpen>) -> Stream {
        Stream {
            kind: Some(kind),
            borrowed,
        }
    }

    /// Whether the descriptor may be used: always for ours; for a borrowed socket, while the
    /// program has not closed it.
    fn usable(&self) -> bool {
        self.kind.is_some() && self.borrowed.as_ref().is_none_or(|open| open())
    }

    fn kind(&mut self) -> io::Result<&mut Kind> {
        if !self.usable() {
            return Err(closed());
        }
        self.kind.as_mut().ok_or_else(closed)
    }

    fn source(&mut self) -> Option<&mut dyn mio::event::Source> {
        if !self.usable() {
            return None;
        }
        match self.kind.as_mut()? {
            Kind::Tcp(s) => Some(s),
            Kind::Unix(s) => Some(s),
        }
    }

    /// Its name and its peer's, when the peer may be a socket of this process.
    /// Bytes waiting to be read from a usable Unix socket (`FIONREAD`); `None` for TCP, a
    /// closed socket or an error.
    fn unix_queued(&self) -> Option<u64> {
        if !self.usable() {
            return None;
        }
        match self.kind.as_ref()? {
            Kind::Unix(s) => rustix::io::ioctl_fionread(s).ok(),
            Kind::Tcp(_) => None,
        }
    }

    fn ends(&self) -> Option<Ends> {
        match self.kind.as_ref()? {
            Kind::Tcp(s) => peer::tcp(s.local_addr(), s.peer_addr()),
            Kind::Unix(s) => peer::unix(s),
        }
    }

    fn shutdown(&self) {
        if !self.usable() {
            return;
        }
        let _ = match self.kind.as_ref() {
            Some(Kind::Tcp(s)) => s.shutdown(Shutdown::Both),
            Some(Kind::Unix(s)) => s.shutdown(Shutdown::Both),
            None => Ok(()),
        };
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        if self.borrowed.is_some() {
            // The program's socket: never closed here.
            if let Some(kind) = self.kind.take() {
                std::mem::forget(kind);
            }
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.kind() {
            Ok(Kind::Tcp(s)) => s.read(buf),
            Ok(Kind::Unix(s)) => s.read(buf),
            // Closed by the program: the end of the stream.
            Err(_) => Ok(0),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.kind()? {
            Kind::Tcp(s) => s.write(buf),
            Kind::Unix(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn closed() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "the socket was closed by the program",
    )
}

/// A listening socket (TCP or Unix), non-blocking.
pub enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl Listener {
    pub fn tcp(l: std::net::TcpListener) -> io::Result<Listener> {
        l.set_nonblocking(true)?;
        Ok(Listener::Tcp(TcpListener::from_std(l)))
    }

    pub fn unix(l: std::os::unix::net::UnixListener) -> io::Result<Listener> {
        l.set_nonblocking(true)?;
        Ok(Listener::Unix(UnixListener::from_std(l)))
    }

    fn source(&mut self) -> &mut dyn mio::event::Source {
        match self {
            Listener::Tcp(l) => l,
            Listener::Unix(l) => l,
        }
    }

    fn accept(&self) -> io::Result<Stream> {
        match self {
            Listener::Tcp(l) => {
                let (s, _) = l.accept()?;
                let _ = s.set_nodelay(true);
                Ok(Stream::of(Kind::Tcp(s), None))
            }
            Listener::Unix(l) => Ok(Stream::of(Kind::Unix(l.accept()?.0), None)),
        }
    }
}

struct SocketConn {
    token: Token,
    stream: RefCell<Stream>,
    pipe: Pipe,
    /// What the socket did not take yet.
    unsent: RefCell<Vec<u8>>,
    /// Whether writable readiness is asked for (while `unsent` is not empty).
    writing: Cell<bool>,
    /// What lives as long as the socket is watched (the connection running on it).
    keep: RefCell<Option<Rc<dyn std::any::Any>>>,
    /// Its name (while it names this socket in `Reactor::ends`).
    me: Option<End>,
    /// The token of the watched socket at the other end, if this reactor watches it.
    peer: Cell<Option<Token>>,
    /// Whether bytes for the peer go straight into its pipe (`Reactor::pair_directly`).
    direct: Cell<bool>,
}

struct Served {
    listener: RefCell<Listener>,
    bootstrap: Box<dyn ClientHook>,
    options: ReaderOptions,
    event_loop: Weak<EventLoop>,
}

#[derive(Clone)]
enum Source {
    Conn(Rc<SocketConn>),
    Listener(Rc<Served>),
    /// The read end of a wake-up socket (Python's signal wake-up fd): readable means "turn".
    Wakeup(Rc<RefCell<Stream>>),
}

/// One thread's poller and the sockets it watches.
pub struct Reactor {
    poll: RefCell<Poll>,
    events: RefCell<Events>,
    waker: Arc<Waker>,
    /// Set (from any thread) when the executor or the host's queue asks for a turn.
    wanted: Arc<AtomicBool>,
    /// Whether the host watches the poller's descriptor from another loop (asyncio code
    /// awaiting this loop): then bytes written directly to a paired socket also wake the
    /// poller, as bytes through the kernel would have made it readable.
    pumped: Cell<bool>,
    sources: RefCell<HashMap<usize, Source>>,
    next: Cell<usize>,
    buffer: RefCell<Vec<u8>>,
    /// The watched connections by name, for pairing ends (`peer.rs`).
    ends: RefCell<HashMap<End, Token>>,
    /// Sockets that bytes were just written to the other end of: readable without asking.
    hinted: RefCell<Vec<Token>>,
    /// The other buffer of `hinted` (swapped in each turn).
    hinted_scratch: RefCell<Vec<Token>>,
    /// Turns served from `hinted` in a row.
    hinted_turns: Cell<u32>,
    spin: Spin,
}

impl Reactor {
    pub fn new() -> io::Result<Rc<Reactor>> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        Ok(Rc::new(Reactor {
            poll: RefCell::new(poll),
            events: RefCell::new(Events::with_capacity(256)),
            waker,
            wanted: Arc::new(AtomicBool::new(false)),
            pumped: Cell::new(false),
            sources: RefCell::new(HashMap::default()),
            next: Cell::new(1),
            buffer: RefCell::new(vec![0; READ_CHUNK]),
            ends: RefCell::new(HashMap::default()),
            hinted: RefCell::new(Vec::new()),
            hinted_scratch: RefCell::new(Vec::new()),
            hinted_turns: Cell::new(0),
            spin: Spin::new(),
        }))
    }

    /// The epoll descriptor: readable whenever a watched socket or the waker is ready (an
    /// outer loop can watch it to run this one only when it has work).
    pub fn fileno(&self) -> i32 {
        use std::os::fd::AsRawFd;
        self.poll.borrow().as_raw_fd()
    }

    /// A flag and a waker for another thread (or the executor) to ask for a turn.
    pub fn remote(&self) -> (Arc<AtomicBool>, Arc<Waker>) {
        (self.wanted.clone(), self.waker.clone())
    }

    /// See the field.
    pub fn set_pumped(&self, pumped: bool) {
        self.pumped.set(pumped);
    }

    /// Whether a turn was asked for since the last call (clears the flag).
    pub fn take_wanted(&self) -> bool {
        self.wanted.swap(false, Ordering::AcqRel)
    }

    pub fn is_wanted(&self) -> bool {
        self.wanted.load(Ordering::Acquire)
    }

    /// Whether bytes written to one end of a watched pair wait to be read at the other (the
    /// next `wait` reads them without blocking).
    pub fn has_hinted(&self) -> bool {
        !self.hinted.borrow().is_empty()
    }

    fn token(&self) -> Token {
        let t = self.next.get();
        self.next.set(t + 1);
        Token(t)
    }

    /// Watches `stream`: its bytes feed the returned pipe, and the pipe writes to it.
    pub fn add_stream(self: &Rc<Self>, mut stream: Stream) -> io::Result<Pipe> {
        let token = self.token();
        self.poll.borrow().registry().register(
            stream.source().ok_or_else(closed)?,
            token,
            Interest::READABLE,
        )?;
        let ends = stream.ends();
        let peer = ends.and_then(|e| self.ends.borrow().get(&e.peer).copied());
        let conn = Rc::new_cyclic(|weak: &Weak<SocketConn>| SocketConn {
            token,
            stream: RefCell::new(stream),
            pipe: Pipe::new(Box::new(SocketSink {
                conn: weak.clone(),
                reactor: Rc::downgrade(self),
            })),
            unsent: RefCell::new(Vec::new()),
            writing: Cell::new(false),
            keep: RefCell::new(None),
            me: ends.map(|e| e.me),
            peer: Cell::new(peer),
            direct: Cell::new(false),
        });
        if let Some(e) = ends {
            self.ends.borrow_mut().insert(e.me, token);
        }
        if let Some(Source::Conn(other)) =
            peer.and_then(|p| self.sources.borrow().get(&p.0).cloned())
        {
            other.peer.set(Some(token));
            Self::pair_directly(&conn, &other);
        }
        let pipe = conn.pipe.clone();
        self.sources
            .borrow_mut()
            .insert(token.0, Source::Conn(conn));
        Ok(pipe)
    }

    /// Watches `stream` for a connection made by `start` over its pipe; the connection
    /// lives while the socket is watched (until it ends or is closed).
    pub fn add_connection<T: 'static, E>(
        self: &Rc<Self>,
        stream: Stream,
        start: impl FnOnce(Pipe) -> Result<Rc<T>, E>,
    ) -> Result<Rc<T>, E>
    where
        E: From<io::Error>,
    {
        let token = Token(self.next.get());
        let pipe = self.add_stream(stream)?;
        let conn = match start(pipe.clone()) {
            Ok(c) => c,
            Err(e) => {
                pipe.close();
                return Err(e);
            }
        };
        if let Some(Source::Conn(c)) = self.sources.borrow().get(&token.0) {
            *c.keep.borrow_mut() = Some(conn.clone() as Rc<dyn std::any::Any>);
        }
        Ok(conn)
    }

    /// Serves `bootstrap` to every connection `listener` accepts, on `event_loop`.
    pub fn listen(
        self: &Rc<Self>,
        mut listener: Listener,
        bootstrap: Box<dyn ClientHook>,
        options: ReaderOptions,
        event_loop: &Rc<EventLoop>,
    ) -> io::Result<usize> {
        let token = self.token();
        self.poll
            .borrow()
            .registry()
            .register(listener.source(), token, Interest::READABLE)?;
        let served = Rc::new(Served {
            listener: RefCell::new(listener),
            bootstrap,
            options,
            event_loop: Rc::downgrade(event_loop),
        });
        self.sources
            .borrow_mut()
            .insert(token.0, Source::Listener(served));
        Ok(token.0)
    }

    /// Stops watching a listener (its socket closes; accepted connections go on).
    pub fn unlisten(&self, key: usize) {
        let removed = self.sources.borrow_mut().remove(&key);
        if let Some(Source::Listener(s)) = &removed {
            let _ = self
                .poll
                .borrow()
                .registry()
                .deregister(s.listener.borrow_mut().source());
        }
        drop(removed);
    }

    /// Watches the read end of a wake-up socket: whatever arrives on it (a byte written by a
    /// signal handler) is drained and asks for a turn.
    pub fn watch_wakeup(&self, mut stream: Stream) -> io::Result<usize> {
        let token = self.token();
        self.poll.borrow().registry().register(
            stream.source().ok_or_else(closed)?,
            token,
            Interest::READABLE,
        )?;
        self.sources
            .borrow_mut()
            .insert(token.0, Source::Wakeup(Rc::new(RefCell::new(stream))));
        Ok(token.0)
    }

    /// Closes everything: listeners, accepted connections, sockets.
    pub fn close(&self) {
        let all: Vec<Source> = self.sources.borrow_mut().drain().map(|(_, s)| s).collect();
        self.ends.borrow_mut().clear();
        self.hinted.borrow_mut().clear();
        for s in &all {
            match s {
                Source::Conn(c) => {
                    self.deregister(&c.stream);
                    c.stream.borrow().shutdown();
                }
                Source::Listener(l) => {
                    let _ = self
                        .poll
                        .borrow()
                        .registry()
                        .deregister(l.listener.borrow_mut().source());
                }
                Source::Wakeup(w) => self.deregister(w),
            }
        }
        drop(all);
    }

    /// Waits for readiness (at most `timeout`; `Some(ZERO)` only looks) and handles it:
    /// reads feed pipes, writable sockets drain, listeners accept. `detach` runs the blocking
    /// call (the binding releases the interpreter lock there). An `Interrupted` error means a
    /// signal arrived. Returns whether anything was handled.
    pub fn wait<D>(self: &Rc<Self>, timeout: Option<Duration>, detach: D) -> io::Result<bool>
    where
        D: FnOnce(&mut (dyn FnMut() -> io::Result<()> + Send)) -> io::Result<()>,
    {
        // Bytes written to one end of a pair this reactor watches are at the other end now:
        // read them without asking epoll (its edge for them, still queued, is dropped by
        // the kernel at the next ask once they are read). Every HINTED_TURNS turns, epoll
        // is asked anyway (the hinted sockets' bytes are among what it reports).
        // Swapped with a kept vector: no allocation per turn.
        let mut hinted = std::mem::take(&mut *self.hinted_scratch.borrow_mut());
        std::mem::swap(&mut hinted, &mut *self.hinted.borrow_mut());
        let serve = !hinted.is_empty() && self.hinted_turns.get() < HINTED_TURNS;
        if serve {
            self.hinted_turns.set(self.hinted_turns.get() + 1);
            for token in &hinted {
                let conn = match self.sources.borrow().get(&token.0) {
                    Some(Source::Conn(c)) => c.clone(),
                    _ => continue,
                };
                self.read(&conn, false);
            }
        }
        hinted.clear();
        *self.hinted_scratch.borrow_mut() = hinted;
        if serve {
            return Ok(true);
        }
        self.hinted_turns.set(0);
        let ready: Vec<(Token, bool, bool, bool)> = {
            let mut poll = self.poll.borrow_mut();
            let mut events = self.events.borrow_mut();
            let (poll, events) = (&mut *poll, &mut *events);
            if timeout == Some(Duration::ZERO) {
                poll.poll(events, timeout)?;
            } else {
                let spin = self.spin.next(timeout);
                let started = Instant::now();
                let mut caught = false;
                let mut block = || {
                    if !spin.is_zero() {
                        // Looks without blocking until the spin is over (the interpreter
                        // lock released, as for the block).
                        loop {
                            poll.poll(events, Some(Duration::ZERO))?;
                            if !events.is_empty() {
                                caught = true;
                                return Ok(());
                            }
                            if started.elapsed() >= spin {
                                break;
                            }
                            std::hint::spin_loop();
                        }
                    }
                    let left = timeout.map(|t| t.saturating_sub(started.elapsed()));
                    poll.poll(events, left)
                };
                let r = detach(&mut block);
                self.spin.learn(spin, caught);
                r?;
            }
            events
                .iter()
                .map(|e| {
                    (
                        e.token(),
                        e.is_readable() || e.is_read_closed() || e.is_error(),
                        e.is_writable() || e.is_write_closed(),
                        e.is_read_closed() || e.is_error(),
                    )
                })
                .collect()
        };
        let handled = !ready.is_empty();
        for (token, readable, writable, ending) in ready {
            if token == WAKER {
                self.wanted.store(true, Ordering::Release);
                continue;
            }
            let Some(source) = self.sources.borrow().get(&token.0).cloned() else {
                continue;
            };
            match source {
                Source::Conn(c) => {
                    if writable {
                        self.drain(&c);
                    }
                    if readable {
                        self.read(&c, ending);
                    }
                }
                Source::Listener(l) => self.accept(&l),
                Source::Wakeup(w) => {
                    let mut buf = [0u8; 64];
                    loop {
                        match w.borrow_mut().read(&mut buf) {
                            Ok(n) if n > 0 => continue,
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                            _ => break,
                        }
                    }
                    self.wanted.store(true, Ordering::Release);
                }
            }
        }
        Ok(handled)
    }

    /// Reads what the socket holds into its pipe. `ending`: epoll reported the peer's end
    /// (or an error) with this readiness, so the socket is read until it says so (its last
    /// bytes and the end come in one edge: stopping at a short read would miss the end).
    fn read(&self, c: &Rc<SocketConn>, ending: bool) {
        let mut buf = self.buffer.borrow_mut();
        loop {
            let r = c.stream.borrow_mut().read(&mut buf);
            match r {
                Ok(0) => {
                    self.forget(c);
                    c.pipe.feed_eof(None);
                    return;
                }
                Ok(n) => {
                    c.pipe.feed(&buf[..n]);
                    // A short read emptied the socket: the next bytes bring a new edge.
                    if n < buf.len() && !ending {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.forget(c);
                    c.pipe.feed_eof(Some(e.to_string()));
                    return;
                }
            }
        }
    }

    /// Both ends of one Unix socket pair watched by this reactor (one thread): from now on
    /// what either writes goes straight into the other's pipe, no system call on the way.
    /// Only when nothing is on its way through the kernel yet (neither socket holds unread
    /// bytes, neither connection has unsent ones), so no message can overtake an earlier
    /// one; the kernel still carries the end (a close or shutdown) and anything written
    /// once either socket stops being usable (`send`).
    fn pair_directly(a: &SocketConn, b: &SocketConn) {
        let quiet = |c: &SocketConn| {
            c.unsent.borrow().is_empty() && c.stream.borrow().unix_queued() == Some(0)
        };
        if quiet(a) && quiet(b) {
            a.direct.set(true);
            b.direct.set(true);
        }
    }

    /// The peer's connection when `c` writes to it directly and both sockets are usable.
    fn direct_peer(&self, c: &SocketConn) -> Option<Rc<SocketConn>> {
        if !c.direct.get() {
            return None;
        }
        let peer = c.peer.get()?;
        let other = match self.sources.borrow().get(&peer.0) {
            Some(Source::Conn(o)) => o.clone(),
            _ => return None,
        };
        (other.direct.get() && c.stream.borrow().usable() && other.stream.borrow().usable())
            .then_some(other)
    }

    /// Writes `data` now, keeping what the socket does not take for when it is writable.
    fn send(&self, c: &SocketConn, data: &[u8]) -> io::Result<()> {
        if let Some(other) = self.direct_peer(c) {
            other.pipe.feed(data);
            if self.pumped.get() {
                // A failed wake-up (never seen) leaves the bytes for the poller's next turn:
                // no reason to end the connection.
                let _ = self.waker.wake();
            }
            return Ok(());
        }
        // Bytes through the kernel from here on: direct writes, all delivered already,
        // cannot overtake them.
        c.direct.set(false);
        if let Some(peer) = c.peer.get() {
            let mut hinted = self.hinted.borrow_mut();
            if !hinted.contains(&peer) {
                hinted.push(peer);
            }
        }
        let mut unsent = c.unsent.borrow_mut();
        let mut at = 0;
        if unsent.is_empty() {
            let mut stream = c.stream.borrow_mut();
            while at < data.len() {
                match stream.write(&data[at..]) {
                    Ok(0) => break,
                    Ok(n) => at += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
            if at == data.len() {
                return Ok(());
            }
        }
        unsent.extend_from_slice(&data[at..]);
        let over = unsent.len() > HIGH_WATER;
        drop(unsent);
        if !c.writing.replace(true) {
            self.reregister(c, Interest::READABLE | Interest::WRITABLE)?;
        }
        if over {
            c.pipe.pause_writing();
        }
        Ok(())
    }

    fn drain(&self, c: &Rc<SocketConn>) {
        let result = {
            let mut unsent = c.unsent.borrow_mut();
            let mut stream = c.stream.borrow_mut();
            let mut at = 0;
            let mut result = Ok(());
            while at < unsent.len() {
                match stream.write(&unsent[at..]) {
                    Ok(0) => break,
                    Ok(n) => at += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
            unsent.drain(..at);
            result.map(|()| unsent.is_empty())
        };
        match result {
            Ok(true) => {
                if c.writing.replace(false) {
                    let _ = self.reregister(c, Interest::READABLE);
                }
                c.pipe.resume_writing();
            }
            Ok(false) => {}
            Err(e) => {
                self.forget(c);
                c.pipe.feed_eof(Some(e.to_string()));
            }
        }
    }

    fn accept(self: &Rc<Self>, served: &Rc<Served>) {
        loop {
            let accepted = served.listener.borrow().accept();
            let stream = match accepted {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // WouldBlock: all taken; anything else (out of descriptors, a peer that
                // reset before we took it) leaves the listener listening.
                Err(_) => return,
            };
            let Some(ev) = served.event_loop.upgrade() else {
                return;
            };
            // Each connection lives while its socket is watched.
            let _ = self.add_connection(stream, |pipe| {
                Ok::<_, io::Error>(Connection::start(
                    &ev,
                    pipe,
                    Side::Server,
                    Some(served.bootstrap.add_ref()),
                    served.options,
                    Box::new(|_| {}),
                ))
            });
        }
    }

    /// Stops watching a connection's socket and shuts it down (the peer sees the end).
    fn forget(&self, c: &SocketConn) {
        let removed = self.sources.borrow_mut().remove(&c.token.0);
        self.unpair(c);
        self.deregister(&c.stream);
        c.stream.borrow().shutdown();
        drop(removed);
    }
}

impl Reactor {
    /// Stops watching `stream` (nothing to do for a borrowed socket the program closed: its
    /// descriptor may name another file now, and epoll dropped the closed one by itself).
    fn deregister(&self, stream: &RefCell<Stream>) {
        let mut stream = stream.borrow_mut();
        if let Some(source) = stream.source() {
            let _ = self.poll.borrow().registry().deregister(source);
        }
    }

    fn reregister(&self, c: &SocketConn, interest: Interest) -> io::Result<()> {
        let mut stream = c.stream.borrow_mut();
        let source = stream.source().ok_or_else(closed)?;
        self.poll
            .borrow()
            .registry()
            .reregister(source, c.token, interest)
    }

    /// Forgets `c`'s name and its peer's link to it.
    fn unpair(&self, c: &SocketConn) {
        if let Some(me) = &c.me {
            let mut ends = self.ends.borrow_mut();
            if ends.get(me) == Some(&c.token) {
                ends.remove(me);
            }
        }
        if let Some(peer) = c.peer.take() {
            if let Some(Source::Conn(other)) = self.sources.borrow().get(&peer.0) {
                if other.peer.get() == Some(c.token) {
                    other.peer.set(None);
                }
            }
        }
    }
}

struct SocketSink {
    conn: Weak<SocketConn>,
    reactor: Weak<Reactor>,
}

impl PipeSink for SocketSink {
    fn write(&self, data: &[u8]) -> io::Result<()> {
        let (Some(c), Some(r)) = (self.conn.upgrade(), self.reactor.upgrade()) else {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "socket closed"));
        };
        let result = r.send(&c, data);
        if let Err(e) = &result {
            r.forget(&c);
            c.pipe.feed_eof(Some(e.to_string()));
        }
        result
    }

    fn close(&self) {
        if let (Some(c), Some(r)) = (self.conn.upgrade(), self.reactor.upgrade()) {
            r.forget(&c);
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use futures::io::AsyncWrite;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    fn framed(text: &str) -> Vec<u8> {
        let mut m = capnp::message::Builder::new_default();
        m.set_root(text).expect("set root");
        let mut out = Vec::new();
        capnp::serialize::write_message(&mut out, &m).expect("write");
        out
    }

    fn send(pipe: &Pipe, text: &str) {
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        let mut p = pipe.clone();
        let bytes = framed(text);
        assert!(matches!(
            Pin::new(&mut p).poll_write(&mut cx, &bytes),
            Poll::Ready(Ok(n)) if n == bytes.len()
        ));
        pipe.flush_outgoing().expect("flush");
    }

    fn received(pipe: &Pipe) -> Option<String> {
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        match pipe.poll_frame(&mut cx) {
            Poll::Ready(Ok(Some(f))) => {
                let t: capnp::text::Reader<'_> = f.get_root().expect("root");
                Some(t.to_string().expect("utf-8"))
            }
            _ => None,
        }
    }

    fn turn(r: &Rc<Reactor>) -> bool {
        r.wait(Some(Duration::from_secs(5)), |block| block())
            .expect("wait")
    }

    fn conn(r: &Reactor, pipe_token: usize) -> Rc<SocketConn> {
        match r.sources.borrow().get(&pipe_token) {
            Some(Source::Conn(c)) => c.clone(),
            _ => panic!("no connection {pipe_token}"),
        }
    }

    /// Both ends of a pair watched by `r`, `b` holding one message written through the
    /// kernel before it was watched (so the ends are linked but not written directly), read
    /// already.
    fn pair_with_history(r: &Rc<Reactor>) -> (Pipe, Pipe) {
        let (a, b) = std::os::unix::net::UnixStream::pair().expect("pair");
        let mut early = a.try_clone().expect("clone");
        early.write_all(&framed("early")).expect("write");
        let pa = r.add_stream(Stream::unix(a).expect("a")).expect("add a");
        let pb = r.add_stream(Stream::unix(b).expect("b")).expect("add b");
        assert!(!conn(r, 1).direct.get() && !conn(r, 2).direct.get());
        assert!(turn(r));
        assert_eq!(received(&pb).as_deref(), Some("early"));
        (pa, pb)
    }

    #[test]
    fn a_quiet_pair_writes_straight_into_the_peers_pipe() {
        let r = Reactor::new().expect("reactor");
        let (a, b) = std::os::unix::net::UnixStream::pair().expect("pair");
        let pa = r.add_stream(Stream::unix(a).expect("a")).expect("add a");
        let pb = r.add_stream(Stream::unix(b).expect("b")).expect("add b");
        assert!(conn(&r, 1).direct.get() && conn(&r, 2).direct.get());
        for i in 0..3 {
            send(&pa, &format!("ping {i}"));
            send(&pb, &format!("pong {i}"));
            // Delivered at once, nothing through the kernel, no hint for the next turn.
            assert_eq!(received(&pb), Some(format!("ping {i}")));
            assert_eq!(received(&pa), Some(format!("pong {i}")));
            assert_eq!(conn(&r, 1).stream.borrow().unix_queued(), Some(0));
            assert_eq!(conn(&r, 2).stream.borrow().unix_queued(), Some(0));
            assert!(r.hinted.borrow().is_empty());
        }
        // Watched from another loop (asyncio awaiting this one): a direct write also makes
        // the poller readable, as bytes through the kernel would.
        let _ = r.take_wanted();
        r.set_pumped(true);
        send(&pa, "seen");
        assert!(turn(&r));
        assert!(r.take_wanted(), "the poller was woken");
        assert_eq!(received(&pb).as_deref(), Some("seen"));
        r.set_pumped(false);

        // One end gone: the kernel carries its end to the other, which reads it.
        let gone = conn(&r, 1);
        r.forget(&gone);
        assert!(r.direct_peer(&conn(&r, 2)).is_none());
        assert!(turn(&r));
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        assert!(matches!(pb.poll_frame(&mut cx), Poll::Ready(Ok(None))));
        drop(pa);
    }

    #[test]
    fn the_two_ends_of_a_pair_are_linked_and_read_without_epoll() {
        let r = Reactor::new().expect("reactor");
        let (pa, pb) = pair_with_history(&r);
        let (ta, tb) = (Token(1), Token(2));
        assert_eq!(conn(&r, 1).peer.get(), Some(tb));
        assert_eq!(conn(&r, 2).peer.get(), Some(ta));

        send(&pa, "ping");
        assert_eq!(*r.hinted.borrow(), vec![tb]);
        assert!(turn(&r));
        assert_eq!(r.hinted_turns.get(), 1, "served from the hint");
        assert_eq!(received(&pb).as_deref(), Some("ping"));
        send(&pb, "pong");
        assert!(turn(&r));
        assert_eq!(received(&pa).as_deref(), Some("pong"));

        // One end gone: the other is no longer linked, and its name is forgotten.
        let gone = conn(&r, 1);
        r.forget(&gone);
        assert_eq!(conn(&r, 2).peer.get(), None);
        assert_eq!(r.ends.borrow().len(), 1);
        drop(pa);
    }

    #[test]
    fn the_last_bytes_and_the_end_in_one_edge_are_both_read() {
        let r = Reactor::new().expect("reactor");
        // An unpaired socket: its bytes come through epoll.
        let (c, mut d) = std::os::unix::net::UnixStream::pair().expect("pair");
        let pc = r.add_stream(Stream::unix(c).expect("c")).expect("add c");
        d.write_all(&framed("last words")).expect("write");
        drop(d);
        // One edge brings both: a short read must not stop before the end.
        assert!(turn(&r));
        assert_eq!(received(&pc).as_deref(), Some("last words"));
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        assert!(
            matches!(pc.poll_frame(&mut cx), Poll::Ready(Ok(None))),
            "the end was not seen"
        );
        assert!(
            r.sources.borrow().is_empty(),
            "the ended socket is forgotten"
        );
    }

    #[test]
    fn a_borrowed_socket_is_not_used_once_its_program_closed_it() {
        let r = Reactor::new().expect("reactor");
        let (c, mut d) = std::os::unix::net::UnixStream::pair().expect("pair");
        // The program's socket (a copy of it here, kept open by the test: the reactor never
        // closes a borrowed descriptor, so `c`'s own stays open until the test process ends).
        let program = c.try_clone().expect("clone");
        let open = Rc::new(Cell::new(true));
        let seen = open.clone();
        let stream = Stream::borrowed(c.into(), true, Box::new(move || seen.get())).expect("s");
        let pc = r.add_stream(stream).expect("add");
        d.write_all(&framed("while open")).expect("write");
        assert!(turn(&r));
        assert_eq!(received(&pc).as_deref(), Some("while open"));
        // Closed by the program: nothing more is read or written through the descriptor.
        open.set(false);
        d.write_all(&framed("after the close")).expect("write");
        assert!(turn(&r));
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        assert!(matches!(pc.poll_frame(&mut cx), Poll::Ready(Ok(None))));
        let mut p = pc.clone();
        let _ = Pin::new(&mut p).poll_write(&mut cx, &framed("never sent"));
        let _ = pc.flush_outgoing();
        d.set_nonblocking(true).expect("nonblocking");
        let mut buf = [0u8; 16];
        assert!(matches!(
            d.read(&mut buf),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock
        ));
        drop(program);
    }

    #[test]
    fn spins_back_off_after_failures_and_resume_after_a_catch() {
        let spin = Spin {
            allowed: true,
            failures: Cell::new(0),
            skip: Cell::new(0),
        };
        assert_eq!(spin.next(None), SPIN);
        assert_eq!(
            spin.next(Some(Duration::from_micros(7))),
            Duration::from_micros(7)
        );
        // Failures in a row: 1, 3, 7, ... waits block at once, at most 63.
        for expected_skips in [1, 3, 7, 15, 31, 63, 63] {
            spin.learn(SPIN, false);
            for _ in 0..expected_skips {
                assert_eq!(spin.next(None), Duration::ZERO);
            }
            assert_eq!(
                spin.next(None),
                SPIN,
                "after {expected_skips} blocked waits"
            );
        }
        // A catch resets the backoff: the next failure skips one wait again.
        spin.learn(SPIN, true);
        assert_eq!(spin.next(None), SPIN);
        spin.learn(SPIN, false);
        assert_eq!(spin.next(None), Duration::ZERO);
        assert_eq!(spin.next(None), SPIN);
        // A wait that did not spin teaches nothing; a single CPU never spins.
        spin.learn(Duration::ZERO, false);
        assert_eq!(spin.next(None), SPIN);
        let single = Spin {
            allowed: false,
            failures: Cell::new(0),
            skip: Cell::new(0),
        };
        assert_eq!(single.next(None), Duration::ZERO);
    }

    #[test]
    fn a_busy_pair_never_keeps_other_sockets_waiting() {
        let r = Reactor::new().expect("reactor");
        // A pair through the kernel (one written directly needs no turn at all).
        let (pa, pb) = pair_with_history(&r);
        // An unpaired socket whose other end this reactor does not watch.
        let (c, mut d) = std::os::unix::net::UnixStream::pair().expect("pair");
        let pc = r.add_stream(Stream::unix(c).expect("c")).expect("add c");
        assert_eq!(conn(&r, 3).peer.get(), None);
        d.write_all(&framed("from outside")).expect("write");

        let mut turns = 0;
        while received(&pc).is_none() {
            send(&pa, "busy");
            assert!(turn(&r));
            assert_eq!(received(&pb).as_deref(), Some("busy"));
            turns += 1;
            assert!(
                turns <= HINTED_TURNS as usize + 1,
                "starved for {turns} turns"
            );
        }
        assert_eq!(turns, HINTED_TURNS as usize + 1);
    }
}
