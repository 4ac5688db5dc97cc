//! A byte stream whose other end is the host's transport (an asyncio transport): incoming
//! bytes are pushed in by the host (`feed`, `feed_eof`), outgoing ones handed to a `PipeSink`.
//! Reading and writing wake the executor through the usual wakers. No borrow of the shared
//! state is held while calling out (the transport calls back into `pause_writing` from
//! `write`, and dropping it may run Python code).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use futures::io::{AsyncRead, AsyncWrite};

/// Where written bytes go.
pub trait PipeSink {
    /// Hands `data` to the transport (which copies or buffers it).
    fn write(&self, data: &[u8]) -> io::Result<()>;
    /// Closes the transport's write side (or the whole transport).
    fn close(&self);
}

struct Inner {
    /// Chunks as the host delivered them, and how much of the first one was read.
    incoming: VecDeque<Vec<u8>>,
    read_at: usize,
    eof: bool,
    error: Option<String>,
    read_waker: Option<Waker>,
    paused: bool,
    write_waker: Option<Waker>,
    sink: Option<Rc<dyn PipeSink>>,
    /// Bytes written since the last flush: capnp-futures writes a message's segment table and
    /// segments separately, then flushes; one transport write per message.
    outgoing: Vec<u8>,
}

#[derive(Clone)]
pub struct Pipe {
    inner: Rc<RefCell<Inner>>,
}

impl Pipe {
    pub fn new(sink: Box<dyn PipeSink>) -> Pipe {
        Pipe {
            inner: Rc::new(RefCell::new(Inner {
                incoming: VecDeque::new(),
                read_at: 0,
                eof: false,
                error: None,
                read_waker: None,
                paused: false,
                write_waker: None,
                sink: Some(Rc::from(sink)),
                outgoing: Vec::new(),
            })),
        }
    }

    pub fn feed(&self, data: &[u8]) {
        self.feed_vec(data.to_vec());
    }

    /// As `feed`, taking the bytes without a copy.
    pub fn feed_vec(&self, data: Vec<u8>) {
        if data.is_empty() {
            return;
        }
        let waker = {
            let mut i = self.inner.borrow_mut();
            i.incoming.push_back(data);
            i.read_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
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
        self.inner.borrow_mut().paused = true;
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
        let (sink, data) = {
            let mut i = self.inner.borrow_mut();
            if i.outgoing.is_empty() {
                return Ok(());
            }
            (i.sink.clone(), std::mem::take(&mut i.outgoing))
        };
        // Called without the borrow: the transport may call back (`pause_writing`).
        match sink {
            Some(s) => s.write(&data),
            None => Ok(()),
        }
    }

    pub fn is_closed(&self) -> bool {
        self.inner.borrow().sink.is_none()
    }
}

impl AsyncRead for Pipe {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut i = self.inner.borrow_mut();
        let mut n = 0;
        while n < buf.len() {
            let at = i.read_at;
            let Some(chunk) = i.incoming.front() else {
                break;
            };
            let take = (chunk.len() - at).min(buf.len() - n);
            buf[n..n + take].copy_from_slice(&chunk[at..at + take]);
            n += take;
            if at + take == chunk.len() {
                i.incoming.pop_front();
                i.read_at = 0;
            } else {
                i.read_at = at + take;
            }
        }
        if n > 0 {
            return Poll::Ready(Ok(n));
        }
        if i.eof {
            return match &i.error {
                Some(e) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    e.clone(),
                ))),
                None => Poll::Ready(Ok(0)),
            };
        }
        i.read_waker = Some(cx.waker().clone());
        Poll::Pending
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
