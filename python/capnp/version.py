"""Version of this package and the Cap'n Proto feature level it matches."""

from capnp import _capnp

version = _capnp.__version__
short_version = version
LIBCAPNP_VERSION_MAJOR = _capnp.LIBCAPNP_VERSION_MAJOR
LIBCAPNP_VERSION_MINOR = _capnp.LIBCAPNP_VERSION_MINOR
LIBCAPNP_VERSION_MICRO = _capnp.LIBCAPNP_VERSION_MICRO
LIBCAPNP_VERSION = _capnp.LIBCAPNP_VERSION
