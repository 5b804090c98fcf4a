"""Adapters: implementations of the ports that `services` owns."""
