"""The sign-in read: the `sign_ins` and `non_interactive_sign_ins` streams and everything only they need.

`stream` is the stream and its recovery (a window restarted after an expired page token, applications
split when Graph refuses `or`), with `refusal` telling a refused filter from any other 400; `query` builds the `$filter` of one window and checks each record against
it; `instants` works in Graph's 100-ns ticks; `windows` sizes the windows, with the volume probe in
`density`; `cursor` is the CDK's ConcurrentCursor over those windows; `state` checks a saved state;
`retention` keeps the start inside Entra's 30 days by Graph's clock.

It may import: `clock`, `config`, `errors`, `graph`.
"""
