"""pycapnp's private namespace: ``capnp.lib.capnp`` holds every class under its pycapnp name."""
