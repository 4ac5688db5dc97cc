//! A byte stream whose other end is the host's transport (an asyncio transport or a socket of
//! the synchronous reactor): incoming bytes are pushed in by the host (`feed`, `feed_eof`) and
//! assembled into messages as they come, outgoing ones handed to a `PipeSink`.
//!
//! Incoming bytes are copied once, from the host's buffer straight into the message's
//! segments (`Assembler`): no per-read buffer, no stream reads in pieces. The RPC system takes
//! the messages with `poll_frame`. Writing and message arrival wake the executor through the
//! usual wakers. No borrow of the shared state is held while calling out (the transport calls
//! back into `pause_writing` from `write`, and dropping it may run Python code).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Waker};

use capnp::message::{Reader, ReaderOptions, ReaderSegments};
use capnp::serialize::SegmentLengthsBuilder;
use capnp::Word;
use futures::io::AsyncWrite;

/// Where written bytes go.
pub trait PipeSink {
    /// Hands `data` to the transport (which copies or buffers it).
    fn write(&self, data: &[u8]) -> io::Result<()>;
    /// Closes the transport's write side (or the whole transport).
    fn close(&self);
}

/// A message read whole from the stream.
pub(crate) type Frame = Reader<FrameWords>;

/// A whole message's segments: the words shared (`frame_holding` finds them), and where each
/// segment ends.
pub struct FrameWords {
    words: Arc<Vec<Word>>,
    first_end: usize,
    more_ends: Vec<usize>,
}

impl ReaderSegments for FrameWords {
    fn get_segment(&self, idx: u32) -> Option<&[u8]> {
        let idx = idx as usize;
        let end = match idx {
            0 => self.first_end,
            _ => *self.more_ends.get(idx - 1)?,
        };
        let start = match idx {
            0 => 0,
            1 => self.first_end,
            _ => *self.more_ends.get(idx - 2)?,
        };
        Some(Word::words_to_bytes(self.words.get(start..end)?))
    }

    fn len(&self) -> usize {
        1 + self.more_ends.len()
    }
}

/// How many of the last one-segment messages this thread assembled `frame_holding` knows.
const RECENT_FRAMES: usize = 8;

thread_local! {
    static RECENT: RefCell<[Option<Weak<Vec<Word>>>; RECENT_FRAMES]> =
        const { RefCell::new([const { None }; RECENT_FRAMES]) };
    static NEXT_RECENT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The words of a one-segment message assembled recently on this thread (and still alive)
/// that hold the `len` bytes at address `addr`, word-aligned, with the word index there.
pub(crate) fn frame_holding(addr: usize, len: usize) -> Option<(Arc<Vec<Word>>, usize)> {
    RECENT.with(|r| {
        r.borrow().iter().flatten().find_map(|weak| {
            let words = weak.upgrade()?;
            let base = words.as_ptr() as usize;
            let size = words.len() * 8;
            let offset = addr.checked_sub(base)?;
            (offset % 8 == 0 && offset.checked_add(len)? <= size).then_some((words, offset / 8))
        })
    })
}

fn remember(words: &Arc<Vec<Word>>) {
    let i = NEXT_RECENT.with(|n| {
        let i = n.get();
        n.set((i + 1) % RECENT_FRAMES);
        i
    });
    RECENT.with(|r| r.borrow_mut()[i] = Some(Arc::downgrade(words)));
}

impl FrameSegments {
    /// The message, its words shared from now on.
    fn finish(self) -> FrameWords {
        let words = Arc::new(self.words);
        if self.more_ends.is_empty() {
            remember(&words);
        }
        FrameWords {
            words,
            first_end: self.first_end,
            more_ends: self.more_ends,
        }
    }
}

/// A message's segments as they arrive: one word vector, filled as bytes come (never zeroed
/// first: every word is written once, from the stream), and where each segment ends.
pub(crate) struct FrameSegments {
    words: Vec<Word>,
    /// End of the first segment, in words from the start.
    first_end: usize,
    /// End of each later segment (none for the usual one-segment message: no allocation).
    more_ends: Vec<usize>,
    /// The bytes of a word split between two feeds.
    partial: [u8; 8],
    partial_len: usize,
}

impl FrameSegments {
    /// Segments of `lengths` words (at least one; `total` words in all).
    fn new(lengths: impl Iterator<Item = usize>, count: usize, total: usize) -> FrameSegments {
        let mut first_end = 0;
        let mut more_ends = Vec::with_capacity(count.saturating_sub(1));
        let mut end = 0;
        for (i, len) in lengths.enumerate() {
            end += len;
            if i == 0 {
                first_end = end;
            } else {
                more_ends.push(end);
            }
        }
        FrameSegments {
            words: Vec::with_capacity(total),
            first_end,
            more_ends,
            partial: [0; 8],
            partial_len: 0,
        }
    }

    fn total_words(&self) -> usize {
        self.more_ends.last().copied().unwrap_or(self.first_end)
    }

    fn is_full(&self) -> bool {
        self.words.len() == self.total_words()
    }

    /// Takes what `data` has of the segments (up to their end); returns the bytes taken.
    fn fill(&mut self, data: &[u8]) -> usize {
        let wanted = (self.total_words() - self.words.len()) * 8 - self.partial_len;
        let data = &data[..wanted.min(data.len())];
        let mut rest = data;
        if self.partial_len > 0 {
            let take = (8 - self.partial_len).min(rest.len());
            self.partial[self.partial_len..self.partial_len + take].copy_from_slice(&rest[..take]);
            self.partial_len += take;
            rest = &rest[take..];
            if self.partial_len < 8 {
                return data.len();
            }
            let p = self.partial;
            self.words
                .push(capnp::word(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]));
            self.partial_len = 0;
        }
        let chunks = rest.chunks_exact(8);
        let tail = chunks.remainder();
        self.words
            .extend(chunks.map(|c| capnp::word(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7])));
        self.partial[..tail.len()].copy_from_slice(tail);
        self.partial_len = tail.len();
        data.len()
    }
}

/// The largest outgoing buffer a connection keeps between flushes.
const KEPT_OUTGOING_BYTES: usize = 1 << 20;

/// The reference's limit on a message's segment count (as capnp-futures checks it).
const MAX_SEGMENTS: usize = 512;

/// Turns a byte stream into messages (the standard framing: segment count - 1, each segment's
/// length in words, padding to a word, then the segments).
struct Assembler {
    /// The segment table so far (its buffer kept from message to message).
    table: Vec<u8>,
    /// A message's segments, being read (after its table).
    body: Option<FrameSegments>,
}

/// The length of a segment table of `count` segments, in bytes (padded to a word).
fn table_len(count: usize) -> usize {
    (4 + 4 * count + 7) & !7
}

fn le_u32(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize
}

/// The segment count of a table's first word, checked.
fn segment_count(first: &[u8]) -> capnp::Result<usize> {
    let count = u32::from_le_bytes([first[0], first[1], first[2], first[3]]).wrapping_add(1);
    if count as usize >= MAX_SEGMENTS {
        return Err(capnp::Error::failed(format!("Too many segments: {count}")));
    }
    if count == 0 {
        return Err(capnp::Error::failed(format!("Too few segments: {count}")));
    }
    Ok(count as usize)
}

impl Assembler {
    fn new() -> Assembler {
        Assembler {
            table: Vec::new(),
            body: None,
        }
    }

    /// Takes `data`, pushing every message it completes onto `frames`.
    fn push(
        &mut self,
        mut data: &[u8],
        options: ReaderOptions,
        frames: &mut VecDeque<Frame>,
    ) -> capnp::Result<()> {
        while !data.is_empty() {
            if let Some(segments) = &mut self.body {
                let taken = segments.fill(data);
                data = &data[taken..];
                if segments.is_full() {
                    if let Some(segments) = self.body.take() {
                        frames.push_back(Reader::new(segments.finish(), options));
                    }
                }
                continue;
            }
            let table = &mut self.table;
            let want = if table.len() < 8 {
                8
            } else {
                table_len(segment_count(table)?)
            };
            let take = (want - table.len()).min(data.len());
            table.extend_from_slice(&data[..take]);
            data = &data[take..];
            if table.len() < 8 {
                continue;
            }
            let count = segment_count(table)?;
            if table.len() < table_len(count) {
                continue;
            }
            // SegmentLengthsBuilder checks the lengths (the total fits the address space) as
            // capnp-futures does.
            let mut lengths = SegmentLengthsBuilder::with_capacity(count);
            for i in 0..count {
                lengths.try_push_segment(le_u32(table, 4 + 4 * i))?;
            }
            if let Some(limit) = options.traversal_limit_in_words {
                if lengths.total_words() > limit {
                    return Err(capnp::Error::failed(format!(
                        "Message has {} words, which is too large. To increase the limit on \
                         the receiving end, see capnp::message::ReaderOptions.",
                        lengths.total_words()
                    )));
                }
            }
            let segments = FrameSegments::new(
                (0..count).map(|i| le_u32(table, 4 + 4 * i)),
                count,
                lengths.total_words(),
            );
            table.clear();
            if segments.is_full() {
                frames.push_back(Reader::new(segments.finish(), options));
            } else {
                self.body = Some(segments);
            }
        }
        Ok(())
    }

    /// Whether the stream is between two messages.
    fn at_boundary(&self) -> bool {
        self.body.is_none() && self.table.is_empty()
    }
}

struct Inner {
    /// Messages assembled and not yet taken.
    frames: VecDeque<Frame>,
    assembler: Assembler,
    options: ReaderOptions,
    /// The incoming bytes were not a message stream (reported after the messages before).
    broken: Option<capnp::Error>,
    eof: bool,
    error: Option<String>,
    read_waker: Option<Waker>,
    paused: bool,
    write_waker: Option<Waker>,
    sink: Option<Rc<dyn PipeSink>>,
    /// Bytes written since the last flush: capnp-futures writes a message's segment table and
    /// segments separately, then flushes; one transport write per message.
    outgoing: Vec<u8>,
    /// Writing was paused once: from then on every message goes through capnp-rpc's write
    /// queue (`write_message_now` declines), which may hold messages, so none can pass them.
    queue_only: bool,
}

#[derive(Clone)]
pub struct Pipe {
    inner: Rc<RefCell<Inner>>,
}

impl Pipe {
    pub fn new(sink: Box<dyn PipeSink>) -> Pipe {
        Pipe {
            inner: Rc::new(RefCell::new(Inner {
                frames: VecDeque::new(),
                assembler: Assembler::new(),
                options: ReaderOptions::new(),
                broken: None,
                eof: false,
                error: None,
                read_waker: None,
                paused: false,
                write_waker: None,
                sink: Some(Rc::from(sink)),
                outgoing: Vec::new(),
                queue_only: false,
            })),
        }
    }

    /// The read limits of the messages (set before any bytes come).
    pub fn set_reader_options(&self, options: ReaderOptions) {
        self.inner.borrow_mut().options = options;
    }

    /// Bytes from the transport, assembled into messages at once.
    pub fn feed(&self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let waker = {
            let mut guard = self.inner.borrow_mut();
            let i = &mut *guard;
            if i.eof || i.broken.is_some() {
                return;
            }
            let before = i.frames.len();
            if let Err(e) = i.assembler.push(data, i.options, &mut i.frames) {
                i.broken = Some(e);
            }
            if i.frames.len() > before || i.broken.is_some() {
                i.read_waker.take()
            } else {
                None
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// The next message; `None` at the end of the stream between two messages.
    pub fn poll_frame(&self, cx: &mut Context<'_>) -> Poll<capnp::Result<Option<Frame>>> {
        let mut i = self.inner.borrow_mut();
        if let Some(frame) = i.frames.pop_front() {
            return Poll::Ready(Ok(Some(frame)));
        }
        if let Some(e) = &i.broken {
            return Poll::Ready(Err(e.clone()));
        }
        if i.eof {
            return Poll::Ready(match &i.error {
                Some(e) => Err(capnp::Error::disconnected(e.clone())),
                None if i.assembler.at_boundary() => Ok(None),
                None => Err(capnp::Error::from_kind(
                    capnp::ErrorKind::PrematureEndOfFile,
                )),
            });
        }
        i.read_waker = Some(cx.waker().clone());
        Poll::Pending
    }

    /// The end of the stream (`error`: the connection was lost with this message).
    pub fn feed_eof(&self, error: Option<String>) {
        let (r, w, sink) = {
            let mut i = self.inner.borrow_mut();
            i.eof = true;
            if i.error.is_none() {
                i.error = error;
            }
            (i.read_waker.take(), i.write_waker.take(), i.sink.take())
        };
        drop(sink);
        if let Some(w) = r {
            w.wake();
        }
        if let Some(w) = w {
            w.wake();
        }
    }

    pub fn pause_writing(&self) {
        let mut i = self.inner.borrow_mut();
        i.paused = true;
        i.queue_only = true;
    }

    /// Whether `write_message_now` would take a message: the stream is open and no message
    /// can be waiting in the write queue (writing was never paused).
    pub fn can_write_now(&self) -> bool {
        let i = self.inner.borrow();
        i.sink.is_some() && !i.queue_only
    }

    /// Appends `message` to the outgoing bytes (flushed when the loop's run ends), as the
    /// write queue would; only when `can_write_now` (else nothing is written: `false`).
    pub fn write_message_now<A: capnp::message::Allocator>(
        &self,
        message: &capnp::message::Builder<A>,
    ) -> bool {
        let mut i = self.inner.borrow_mut();
        if i.sink.is_none() || i.queue_only {
            return false;
        }
        // Writing into a Vec cannot fail.
        capnp::serialize::write_message(&mut i.outgoing, message).is_ok()
    }

    pub fn resume_writing(&self) {
        let w = {
            let mut i = self.inner.borrow_mut();
            i.paused = false;
            i.write_waker.take()
        };
        if let Some(w) = w {
            w.wake();
        }
    }

    /// Closes the sink now (pending reads end).
    pub fn close(&self) {
        let sink = self.inner.borrow_mut().sink.take();
        if let Some(s) = sink {
            s.close();
        }
        self.feed_eof(None);
    }

    /// Hands everything written since the last call to the transport.
    pub fn flush_outgoing(&self) -> io::Result<()> {
        let (sink, mut data) = {
            let mut i = self.inner.borrow_mut();
            if i.outgoing.is_empty() {
                return Ok(());
            }
            (i.sink.clone(), std::mem::take(&mut i.outgoing))
        };
        // Called without the borrow: the transport may call back (`pause_writing`).
        let r = match sink {
            Some(s) => s.write(&data),
            None => Ok(()),
        };
        // The buffer is kept for the next messages (up to a size worth keeping per connection).
        if data.capacity() <= KEPT_OUTGOING_BYTES {
            data.clear();
            let mut i = self.inner.borrow_mut();
            if i.outgoing.is_empty() {
                i.outgoing = data;
            }
        }
        r
    }

    pub fn is_closed(&self) -> bool {
        self.inner.borrow().sink.is_none()
    }
}

impl AsyncWrite for Pipe {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut i = self.inner.borrow_mut();
        if i.sink.is_none() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "stream closed",
            )));
        }
        if i.paused {
            i.write_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        i.outgoing.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Handed to the transport when the loop's run ends (`flush_outgoing`), so the
        // messages of one run leave in one write.
        if self.inner.borrow().sink.is_none() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "stream closed",
            )));
        }
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let sink = self.inner.borrow_mut().sink.take();
        if let Some(s) = sink {
            s.close();
        }
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use capnp::message::Builder;

    struct NoSink;
    impl PipeSink for NoSink {
        fn write(&self, _: &[u8]) -> io::Result<()> {
            Ok(())
        }
        fn close(&self) {}
    }

    /// A framed message of several segments (one-word first segment) holding `text`.
    fn framed(text: &str) -> Vec<u8> {
        let mut m = Builder::new(capnp::message::HeapAllocator::new().first_segment_words(1));
        m.set_root(text).expect("set root");
        let mut out = Vec::new();
        capnp::serialize::write_message(&mut out, &m).expect("write");
        out
    }

    fn next(pipe: &Pipe) -> Poll<capnp::Result<Option<String>>> {
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        pipe.poll_frame(&mut cx).map(|r| {
            r.map(|f| {
                f.map(|f| {
                    let t: capnp::text::Reader<'_> = f.get_root().expect("root");
                    t.to_string().expect("utf-8")
                })
            })
        })
    }

    #[test]
    fn messages_assemble_from_any_split() {
        let a = framed("first message");
        let b = framed(&"x".repeat(300));
        let mut both = a.clone();
        both.extend_from_slice(&b);
        for step in [1, 3, 7, 8, 13, both.len()] {
            let pipe = Pipe::new(Box::new(NoSink));
            assert!(next(&pipe).is_pending());
            for chunk in both.chunks(step) {
                pipe.feed(chunk);
            }
            assert!(matches!(next(&pipe), Poll::Ready(Ok(Some(t))) if t == "first message"));
            assert!(matches!(next(&pipe), Poll::Ready(Ok(Some(t))) if t.len() == 300));
            assert!(next(&pipe).is_pending());
            pipe.feed_eof(None);
            assert!(matches!(next(&pipe), Poll::Ready(Ok(None))));
        }
    }

    struct Recording(Rc<RefCell<Vec<u8>>>);
    impl PipeSink for Recording {
        fn write(&self, data: &[u8]) -> io::Result<()> {
            self.0.borrow_mut().extend_from_slice(data);
            Ok(())
        }
        fn close(&self) {}
    }

    #[test]
    fn messages_are_written_at_send_until_writing_is_paused_once() {
        let written = Rc::new(RefCell::new(Vec::new()));
        let pipe = Pipe::new(Box::new(Recording(written.clone())));
        let mut m = Builder::new_default();
        m.set_root("first").expect("root");
        assert!(pipe.can_write_now());
        assert!(pipe.write_message_now(&m));
        pipe.flush_outgoing().expect("flush");
        let mut expected = Vec::new();
        capnp::serialize::write_message(&mut expected, &m).expect("write");
        assert_eq!(*written.borrow(), expected);
        // Once paused, every later message goes through the write queue (which may hold
        // some), even after writing resumes: none may pass those queued.
        pipe.pause_writing();
        assert!(!pipe.can_write_now());
        assert!(!pipe.write_message_now(&m));
        pipe.resume_writing();
        assert!(!pipe.can_write_now());
        assert!(!pipe.write_message_now(&m));
        pipe.flush_outgoing().expect("flush");
        assert_eq!(*written.borrow(), expected);
        // A closed stream takes nothing either.
        let closed = Pipe::new(Box::new(NoSink));
        closed.close();
        assert!(!closed.can_write_now());
        assert!(!closed.write_message_now(&m));
    }

    #[test]
    fn multi_segment_messages_assemble_from_any_split() {
        // A list of texts over many small segments (far pointers between them).
        let mut m = capnp::message::Builder::new(
            capnp::message::HeapAllocator::new()
                .first_segment_words(2)
                .allocation_strategy(capnp::message::AllocationStrategy::FixedSize),
        );
        {
            let mut list: capnp::text_list::Builder<'_> = m.initn_root(5);
            for i in 0..5 {
                list.set(i, format!("segment text {i}"));
            }
        }
        assert!(m.get_segments_for_output().len() > 3);
        let mut bytes = Vec::new();
        capnp::serialize::write_message(&mut bytes, &m).expect("write");
        bytes.extend_from_slice(&framed("after"));
        for step in [1, 5, 8, 11, bytes.len()] {
            let pipe = Pipe::new(Box::new(NoSink));
            for chunk in bytes.chunks(step) {
                pipe.feed(chunk);
            }
            let mut cx = Context::from_waker(futures::task::noop_waker_ref());
            let Poll::Ready(Ok(Some(frame))) = pipe.poll_frame(&mut cx) else {
                panic!("no message");
            };
            let list: capnp::text_list::Reader<'_> = frame.get_root().expect("root");
            let texts: Vec<String> = list
                .iter()
                .map(|t| t.expect("text").to_string().expect("utf-8"))
                .collect();
            assert_eq!(
                texts,
                (0..5)
                    .map(|i| format!("segment text {i}"))
                    .collect::<Vec<_>>()
            );
            assert!(matches!(next(&pipe), Poll::Ready(Ok(Some(t))) if t == "after"));
        }
    }

    #[test]
    fn the_end_inside_a_message_or_with_an_error_fails() {
        let a = framed("cut short");
        let pipe = Pipe::new(Box::new(NoSink));
        pipe.feed(&a[..a.len() - 1]);
        pipe.feed_eof(None);
        let Poll::Ready(Err(e)) = next(&pipe) else {
            panic!("expected an error")
        };
        assert_eq!(e.kind, capnp::ErrorKind::PrematureEndOfFile);

        let pipe = Pipe::new(Box::new(NoSink));
        pipe.feed(&a);
        pipe.feed_eof(Some("connection reset".into()));
        assert!(matches!(next(&pipe), Poll::Ready(Ok(Some(_)))));
        let Poll::Ready(Err(e)) = next(&pipe) else {
            panic!("expected an error")
        };
        assert_eq!(e.kind, capnp::ErrorKind::Disconnected);
    }

    #[test]
    fn random_bytes_in_random_pieces_end_in_messages_or_an_error() {
        // A fixed xorshift stream: garbage, and valid messages cut anywhere and corrupted.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next_u64 = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let valid = framed(&"z".repeat(40));
        for round in 0..2000 {
            let mut bytes: Vec<u8> = if round % 2 == 0 {
                (0..(next_u64() % 200)).map(|_| next_u64() as u8).collect()
            } else {
                let mut v = valid.clone();
                let at = (next_u64() as usize) % v.len();
                v[at] ^= (next_u64() as u8) | 1;
                v
            };
            if round % 3 == 0 {
                bytes.extend_from_slice(&valid);
            }
            let pipe = Pipe::new(Box::new(NoSink));
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                let take = 1 + (next_u64() as usize) % rest.len();
                pipe.feed(&rest[..take]);
                rest = &rest[take..];
            }
            pipe.feed_eof(None);
            // Every poll ends: messages (readable or not), then the end or an error.
            let mut polls = 0;
            loop {
                polls += 1;
                assert!(polls < 10_000, "round {round}: no end");
                let mut cx = Context::from_waker(futures::task::noop_waker_ref());
                match pipe.poll_frame(&mut cx) {
                    Poll::Ready(Ok(Some(frame))) => {
                        let _ = frame.get_root::<capnp::text::Reader<'_>>();
                    }
                    Poll::Ready(Ok(None)) | Poll::Ready(Err(_)) => break,
                    Poll::Pending => panic!("round {round}: pending after the end"),
                }
            }
        }
    }

    #[test]
    fn bad_tables_and_large_messages_break_the_stream_after_the_good_ones() {
        let good = framed("ok");
        let mut bytes = good.clone();
        bytes.extend_from_slice(&[0xff, 0xff, 0x00, 0x00, 0, 0, 0, 0]);
        let pipe = Pipe::new(Box::new(NoSink));
        pipe.feed(&bytes);
        assert!(matches!(next(&pipe), Poll::Ready(Ok(Some(t))) if t == "ok"));
        let Poll::Ready(Err(e)) = next(&pipe) else {
            panic!("expected an error")
        };
        assert!(e.to_string().contains("Too many segments"), "{e}");

        let pipe = Pipe::new(Box::new(NoSink));
        let mut options = ReaderOptions::new();
        options.traversal_limit_in_words(Some(2));
        pipe.set_reader_options(options);
        pipe.feed(&framed(&"y".repeat(100)));
        let Poll::Ready(Err(e)) = next(&pipe) else {
            panic!("expected an error")
        };
        assert!(e.to_string().contains("too large"), "{e}");
    }
}
