"""The window engine of the sign-in read: how the `sign_ins` and `non_interactive_sign_ins` streams
(streams/sign_ins.py) cut the log into createdDateTime windows, ask Graph for one, and keep their state. It knows no
stream class.

`cursor` is the CDK's ConcurrentCursor over the windows; `windows` sizes them, with the volume probe in `density`;
`query` builds the `$filter` of one window and checks each record against it (and words why one is dropped);
`instants` works in Graph's 100-ns ticks; `state` checks a saved state; `retention` keeps the start inside Entra's
30 days by Graph's clock; `refusal` tells a refused filter from any other 400.

It may import: `clock`, `config`, `errors`, `graph`.
"""
