"""Test and demo support: node processes, lifecycle clients and bag replay over real DDS."""
