"""Speaking offline: the engines of `outeai serve`, run for the command with no server to start.

The first offline call starts a background engine process (`engine_process`): the local
server's app on a Unix socket in a private runtime directory, so no TCP port is open to anyone.
It stays loaded for `keep_alive` seconds after its last client, then exits by itself.
`launch` starts it, finds it and stops it; `transport` is the client's way in: an HTTP
transport over that socket, so every request goes the same protocol path as to a server.
"""
