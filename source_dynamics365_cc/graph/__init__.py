"""The HTTP side of Microsoft Graph, shared by every stream.

`stream.GraphStream` is the base stream: Graph's base URL, the error handler and the Retry-After backoff, and the
skip of an optional stream Graph refuses (403). A stream reads each slice as a
`query.GraphQuery` (what to ask, the refusals it expects, how it resumes after an expired page token) on `road`'s
`read_query`: `@odata.nextLink` paging followed exactly as given and never to another host, the resumption, and a
refusal returned as the read's outcome. Next to it: `answers` (what each Graph answer means), `pages`
(a Graph page decoded once), `throttle` (the pacers of Graph's documented limits, and Retry-After),
`concealed` (anonymized user names) and `dropped` (records Graph should not have sent, counted and reported once
per sync). Nothing here knows a particular stream: what a failure says the next sync does (`resume_note`) and why a
record is dropped (a `DropReason`'s sentence) are worded by the streams, which hand them in.

It may import: `auth` (the wording of a 403), `clock`, `config`, `errors`.
"""
