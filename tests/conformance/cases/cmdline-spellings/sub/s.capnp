@0xe0a1b2c3d4e5f629;
# Named on the command line as ./sub/s.capnp: its source name is sub/s.capnp.
struct S {}
