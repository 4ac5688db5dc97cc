@0xe0a1b2c3d4e5f624;
# Compiled with --src-prefix: source names are relative to src/.
using Sub = import "sub/inner.capnp";
struct Top { i @0 :Sub.Inner; }
