"""The wire: the client, one attempt over HTTP, the dialects, the stream readers, retries and limits."""
