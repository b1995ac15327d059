"""Who the connector is to Microsoft Entra, and what it is allowed to read.

`tokens` gets app-only tokens through msal (a client secret or a certificate) and hands them to
requests; `entra` turns Entra's refusals (AADSTS codes) into instructions; `permissions` says which application
permissions cover each stream, for `check` and for the wording of a 403; `deadline` ends every wait on a host (a
token request, `check`, an estimate).

It may import: `clock`, `config`, `errors`.
"""
