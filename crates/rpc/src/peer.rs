//! Which connected socket is the other end of which: the reactor pairs two sockets it watches
//! when they are the two ends of one connection (a `socketpair`, or a client connected to a
//! listener of the same thread). Bytes written to one end are then known to be waiting at the
//! other, so the reactor reads them without first asking epoll (see `Reactor::wait`).
//!
//! A socket is named by what the kernel says about it, never by guesses: a TCP socket by its
//! (local, peer) addresses, a Unix socket by its inode and its peer's inode (`sock_diag`'s
//! `UNIX_DIAG_PEER`, asked only when the peer process is this one). Anything not known
//! (another system, a query the kernel refuses) leaves the socket unpaired, which only costs
//! the epoll round.

use std::net::SocketAddr;
use std::os::fd::AsFd;

/// What names one end of a connection.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum End {
    /// A TCP socket: (local address, peer address).
    Tcp(SocketAddr, SocketAddr),
    /// A Unix stream socket: its inode.
    Unix(u64),
}

/// A socket's own name and its peer's.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Ends {
    pub(crate) me: End,
    pub(crate) peer: End,
}

/// The ends of a TCP connection whose peer is on this machine's loopback.
pub(crate) fn tcp(
    local: std::io::Result<SocketAddr>,
    peer: std::io::Result<SocketAddr>,
) -> Option<Ends> {
    let (local, peer) = (local.ok()?, peer.ok()?);
    if !peer.ip().is_loopback() {
        return None;
    }
    Some(Ends {
        me: End::Tcp(local, peer),
        peer: End::Tcp(peer, local),
    })
}

/// The ends of a Unix stream socket whose peer is held by this process.
#[cfg(target_os = "linux")]
pub(crate) fn unix(fd: impl AsFd) -> Option<Ends> {
    let fd = fd.as_fd();
    let cred = rustix::net::sockopt::socket_peercred(fd).ok()?;
    if cred.pid != rustix::process::getpid() {
        return None;
    }
    let me = rustix::fs::fstat(fd).ok()?.st_ino;
    let peer = unix_peer_inode(me)?;
    Some(Ends {
        me: End::Unix(me),
        peer: End::Unix(peer),
    })
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn unix(_fd: impl AsFd) -> Option<Ends> {
    None
}

/// Netlink sock_diag (linux/netlink.h, linux/sock_diag.h, linux/unix_diag.h).
#[cfg(target_os = "linux")]
mod diag {
    pub(super) const SOCK_DIAG_BY_FAMILY: u16 = 20;
    const NLM_F_REQUEST: u16 = 1;
    const AF_UNIX: u8 = 1;
    const UDIAG_SHOW_PEER: u32 = 0x4;
    pub(super) const UNIX_DIAG_PEER: u16 = 2;
    const NLMSG_HDRLEN: usize = 16;
    const UNIX_DIAG_MSG_LEN: usize = 16;

    /// The request: a netlink header and a `unix_diag_req` for the socket with inode `ino`.
    pub(super) fn diag_request(ino: u64) -> Option<[u8; 40]> {
        let ino = u32::try_from(ino).ok()?;
        let mut req = [0u8; 40];
        req[0..4].copy_from_slice(&40u32.to_ne_bytes()); // nlmsg_len
        req[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes()); // nlmsg_type
        req[6..8].copy_from_slice(&NLM_F_REQUEST.to_ne_bytes()); // nlmsg_flags
        req[8..12].copy_from_slice(&1u32.to_ne_bytes()); // nlmsg_seq; nlmsg_pid 0: the kernel
        req[16] = AF_UNIX; // sdiag_family; sdiag_protocol and pad 0
        req[20..24].copy_from_slice(&u32::MAX.to_ne_bytes()); // udiag_states: any
        req[24..28].copy_from_slice(&ino.to_ne_bytes()); // udiag_ino
        req[28..32].copy_from_slice(&UDIAG_SHOW_PEER.to_ne_bytes()); // udiag_show
        req[32..40].copy_from_slice(&[0xff; 8]); // udiag_cookie: none
        Some(req)
    }

    /// The peer inode in a sock_diag reply for inode `ino` (None for an error reply, another
    /// socket's reply or one without the attribute).
    pub(super) fn diag_peer(reply: &[u8], ino: u64) -> Option<u64> {
        let u16_at = |at: usize| Some(u16::from_ne_bytes(reply.get(at..at + 2)?.try_into().ok()?));
        let u32_at = |at: usize| Some(u32::from_ne_bytes(reply.get(at..at + 4)?.try_into().ok()?));
        let len = (u32_at(0)? as usize).min(reply.len());
        if u16_at(4)? != SOCK_DIAG_BY_FAMILY || len < NLMSG_HDRLEN + UNIX_DIAG_MSG_LEN {
            return None;
        }
        if u64::from(u32_at(NLMSG_HDRLEN + 4)?) != ino {
            return None;
        }
        let mut at = NLMSG_HDRLEN + UNIX_DIAG_MSG_LEN;
        while at + 4 <= len {
            let (alen, kind) = (u16_at(at)? as usize, u16_at(at + 2)?);
            if alen < 4 {
                return None;
            }
            if kind == UNIX_DIAG_PEER && alen >= 8 {
                return u32_at(at + 4).map(u64::from);
            }
            at += (alen + 3) & !3;
        }
        None
    }

    pub(super) fn unix_peer_inode(ino: u64) -> Option<u64> {
        use rustix::net::{netlink, AddressFamily, RecvFlags, SendFlags, SocketType};
        let req = diag_request(ino)?;
        let nl = rustix::net::socket(
            AddressFamily::NETLINK,
            SocketType::DGRAM,
            Some(netlink::SOCK_DIAG),
        )
        .ok()?;
        if rustix::net::send(&nl, &req, SendFlags::empty()).ok()? != req.len() {
            return None;
        }
        let mut reply = [0u8; 256];
        let (_, n) = rustix::net::recv(&nl, &mut reply[..], RecvFlags::empty()).ok()?;
        diag_peer(reply.get(..n)?, ino)
    }
}
#[cfg(target_os = "linux")]
use diag::unix_peer_inode;

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::diag::*;
    use super::*;
    use std::os::unix::net::UnixStream;

    #[test]
    fn a_socketpairs_ends_name_each_other() {
        let (a, b) = UnixStream::pair().expect("socketpair");
        let ea = unix(&a).expect("a's ends");
        let eb = unix(&b).expect("b's ends");
        assert_eq!(ea.peer, eb.me);
        assert_eq!(eb.peer, ea.me);
        assert_ne!(ea.me, eb.me);
        let (c, _d) = UnixStream::pair().expect("socketpair");
        let ec = unix(&c).expect("c's ends");
        assert_ne!(ec.peer, ea.me);
        assert_ne!(ec.peer, eb.me);
    }

    #[test]
    fn loopback_tcp_ends_name_each_other() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let c = std::net::TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
        let (s, _) = l.accept().expect("accept");
        let ec = tcp(c.local_addr(), c.peer_addr()).expect("client ends");
        let es = tcp(s.local_addr(), s.peer_addr()).expect("server ends");
        assert_eq!(ec.peer, es.me);
        assert_eq!(es.peer, ec.me);
    }

    #[test]
    fn replies_that_are_not_the_answer_name_no_peer() {
        let (a, _b) = UnixStream::pair().expect("socketpair");
        let me = rustix::fs::fstat(&a).expect("fstat").st_ino;
        assert!(unix_peer_inode(me).is_some());
        // An error reply (type 2), a short one, and one for another inode.
        let mut err = [0u8; 36];
        err[0..4].copy_from_slice(&36u32.to_ne_bytes());
        err[4..6].copy_from_slice(&2u16.to_ne_bytes());
        assert_eq!(diag_peer(&err, me), None);
        assert_eq!(diag_peer(&[0u8; 3], me), None);
        let mut other = [0u8; 40];
        other[0..4].copy_from_slice(&40u32.to_ne_bytes());
        other[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        other[20..24].copy_from_slice(&7u32.to_ne_bytes());
        other[32..34].copy_from_slice(&8u16.to_ne_bytes());
        other[34..36].copy_from_slice(&UNIX_DIAG_PEER.to_ne_bytes());
        other[36..40].copy_from_slice(&9u32.to_ne_bytes());
        assert_eq!(diag_peer(&other, 7), Some(9));
        assert_eq!(diag_peer(&other, 8), None);
        // An attribute claiming less than its own header ends the walk.
        other[32..34].copy_from_slice(&2u16.to_ne_bytes());
        assert_eq!(diag_peer(&other, 7), None);
    }
}
