"""The broker side: pure translation of ib_async objects, and the ib_async adapter."""
