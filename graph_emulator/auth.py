"""Entra ID v2 login: OpenID discovery, the client-credentials token endpoint, token validation.

Tokens are real RS256 JWTs signed with the emulator's own key; the Graph side validates them
(signature, expiry, revocation) exactly once per distinct token and caches the claims.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from . import errors
from .apps import App
from .errors import AadError
from .tenant import Tenant

GRAPH_RESOURCE = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _b64int(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class Login:
    """Issues and checks access tokens for the tenant's app registrations."""

    def __init__(
        self, tenant: Tenant, apps: dict[str, App], signing_key: rsa.RSAPrivateKey, lifetime: int = 3600
    ) -> None:
        self.tenant = tenant
        self.apps_by_id = {a.client_id.lower(): a for a in apps.values()}
        self.key = signing_key
        self.kid = "emu-" + tenant.tenant_id[:8]
        self.lifetime = lifetime
        self.base_url = ""  # set by the server once the port is known
        # Where the OpenID document says tokens are issued; tests point it elsewhere (another host name, plain
        # http) to prove that a client sends no credential to a token endpoint off the login host.
        self.token_endpoint_base = ""
        self._lock = threading.Lock()
        self._issued: dict[str, int] = {}  # token id (uti) -> revocation generation at issue
        self._generation = 0
        self._valid: dict[str, dict[str, Any]] = {}  # token -> claims (signature already checked)
        self._granted: dict[str, tuple[str, ...]] = {}  # client_id -> roles consented since start-up

    # -- consent ---------------------------------------------------------------------------
    def grant(self, client_id: str, roles: tuple[str, ...] | list[str]) -> None:
        """Replace the application permissions consented for an app; tokens issued from now on carry them
        (as in Entra, tokens already issued keep their roles until they expire)."""
        if client_id.lower() not in self.apps_by_id:
            raise KeyError(f"no app with client_id {client_id}")
        with self._lock:
            self._granted[client_id.lower()] = tuple(roles)

    def roles_of(self, app: App) -> tuple[str, ...]:
        """The roles a token for `app` carries now: those granted since start-up, else the app's profile."""
        with self._lock:
            return self._granted.get(app.client_id.lower(), app.roles)

    # -- discovery -------------------------------------------------------------------------
    def resolve_tenant(self, name: str) -> str:
        """Tenant GUID for a path segment (GUID or verified domain), else AADSTS90002."""
        if name.lower() in (self.tenant.tenant_id, self.tenant.domain):
            return self.tenant.tenant_id
        raise AadError(
            400,
            "invalid_tenant",
            90002,
            f"Tenant '{name}' not found. Check to make sure you have the correct tenant ID and are signing "
            "into the correct cloud. Check with your subscription administrator, this may happen if there "
            "are no active subscriptions for the tenant.",
        )

    def openid_configuration(self, tenant: str) -> dict[str, Any]:
        tid = self.resolve_tenant(tenant)
        base = f"{self.base_url}/{tid}"
        return {
            "token_endpoint": f"{self.token_endpoint_base or self.base_url}/{tid}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{self.base_url}/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "tid", "roles"],
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
        }

    def jwks(self, tenant: str) -> dict[str, Any]:
        self.resolve_tenant(tenant)
        pub = self.key.public_key().public_numbers()
        return {"keys": [{"kty": "RSA", "use": "sig", "kid": self.kid, "n": _b64int(pub.n), "e": _b64int(pub.e)}]}

    # -- token endpoint --------------------------------------------------------------------
    def token(self, tenant: str, form: dict[str, str]) -> dict[str, Any]:
        """Answer a client-credentials grant, or raise the AADSTS error Entra would."""
        tid = self.resolve_tenant(tenant)
        if form.get("grant_type") != "client_credentials":
            raise AadError(
                400,
                "unsupported_grant_type",
                70003,
                "The app requested an unsupported grant type 'client_credentials' only is enabled here.",
            )
        client_id = form.get("client_id", "")
        app = self.apps_by_id.get(client_id.lower())
        if app is None:
            raise AadError(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory 'Contoso'. This can "
                "happen if the application has not been installed by the administrator of the tenant or "
                "consented to by any user in the tenant. You may have sent your authentication request to the "
                "wrong tenant.",
            )
        if not app.enabled:
            raise AadError(
                400, "unauthorized_client", 7000112, f"Application '{app.client_id}'({app.display_name}) is disabled."
            )
        scope = form.get("scope", "")
        accepted = {f"{self.base_url}/.default", f"{GRAPH_RESOURCE}/.default", f"{GRAPH_APP_ID}/.default"}
        if not any(s in accepted for s in scope.split()):
            unknown = [s.removesuffix("/.default") for s in scope.split() if s.endswith("/.default")]
            if unknown:  # a well-formed scope for a resource this tenant does not know, as Entra answers it
                raise AadError(
                    400,
                    "invalid_resource",
                    500011,
                    f"The resource principal named {unknown[0]} was not found in the tenant named {tenant}. This can "
                    "happen if the application has not been installed by the administrator of the tenant or "
                    "consented to by any user in the tenant. You might have sent your authentication request to "
                    "the wrong tenant.",
                )
            raise AadError(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows must have a scope "
                "value with /.default suffixed to the resource identifier (application ID URI).",
            )
        self._check_credential(app, form, tid)
        return {
            "token_type": "Bearer",
            "expires_in": self.lifetime,
            "ext_expires_in": self.lifetime,
            "access_token": self._issue(app, tid),
        }

    def _check_credential(self, app: App, form: dict[str, str], tid: str) -> None:
        secret = form.get("client_secret")
        assertion = form.get("client_assertion")
        if secret is not None:
            if secret == app.client_secret:
                if app.secret_expired:
                    raise AadError(
                        401,
                        "invalid_client",
                        7000222,
                        f"The provided client secret keys for app '{app.client_id}' are expired. Visit the Azure "
                        "portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using "
                        "certificate credentials for added security: https://aka.ms/certCreds.",
                    )
                return
            raise AadError(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client "
                f"secret value, not the client secret ID, for a secret added to app '{app.client_id}'.",
            )
        if assertion is not None:
            if form.get("client_assertion_type") != JWT_BEARER:
                raise AadError(
                    400,
                    "invalid_request",
                    7000219,
                    "'client_assertion' or 'client_secret' is required for 'client_credentials' grant type.",
                )
            self._verify_assertion(app, assertion, tid)
            return
        raise AadError(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )

    def _verify_assertion(self, app: App, assertion: str, tid: str) -> None:
        def bad(reason: str) -> AadError:
            return AadError(
                401, "invalid_client", 700027, f"Client assertion failed signature validation. [Reason - {reason}]"
            )

        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError:
            raise bad("The assertion is not a well-formed JWT.") from None
        x5t, x5t256 = app.thumbprint_b64()

        def norm(value: object) -> str:
            return str(value or "").rstrip("=").replace("+", "-").replace("/", "_")

        if norm(header.get("x5t#S256")) != x5t256 and norm(header.get("x5t")) != x5t:
            used = header.get("x5t#S256") or header.get("x5t")
            raise AadError(
                401,
                "invalid_client",
                700027,
                f"Client assertion contains an invalid signature. [Reason - The key was not found., "
                f"Thumbprint of key used by client: '{used}']",
            )
        key = x509.load_pem_x509_certificate(app.certificate_pem.encode()).public_key()
        audiences = [f"{self.base_url}/{t}/oauth2/v2.0/token" for t in (tid, self.tenant.domain)]
        audiences += [f"{self.base_url}/{t}/v2.0" for t in (tid, self.tenant.domain)]
        try:
            claims = jwt.decode(
                assertion,
                key,
                algorithms=["RS256", "PS256"],
                audience=audiences,
                options={"require": ["exp", "aud", "iss", "sub"]},
            )
        except jwt.InvalidSignatureError:
            raise bad("The key used to sign the assertion does not match the registered certificate.") from None
        except jwt.ExpiredSignatureError:
            raise bad("The assertion has expired.") from None
        except jwt.InvalidAudienceError:
            raise bad("The audience of the assertion is not this tenant's token endpoint.") from None
        except jwt.PyJWTError as exc:
            raise bad(str(exc)) from None
        if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
            raise bad("iss and sub of the assertion must be the client id.")

    def _issue(self, app: App, tid: str) -> str:
        now = int(time.time())
        uti = uuid.uuid4().hex
        claims: dict[str, Any] = {
            "aud": GRAPH_RESOURCE,
            "iss": f"https://sts.windows.net/{tid}/",
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime,
            "app_displayname": app.display_name,
            "appid": app.client_id,
            "appidacr": "1",
            "idp": f"https://sts.windows.net/{tid}/",
            "idtyp": "app",
            "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, app.client_id)),
            "sub": str(uuid.uuid5(uuid.NAMESPACE_DNS, app.client_id)),
            "tid": tid,
            "uti": uti,
            "ver": "1.0",
        }
        roles = self.roles_of(app)
        if roles:
            claims["roles"] = list(roles)
        with self._lock:
            self._issued[uti] = self._generation
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid, "x5t": self.kid})

    # -- Graph side ------------------------------------------------------------------------
    def revoke_all(self) -> None:
        """Every token issued so far becomes invalid (Graph answers 401)."""
        with self._lock:
            self._generation += 1

    def authenticate(self, authorization: str | None) -> dict[str, Any]:
        """Claims of a valid bearer token, else Graph's 401 InvalidAuthenticationToken."""
        if not authorization:
            raise errors.unauthenticated("Access token is empty.")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise errors.unauthenticated("Access token is empty.")
        claims = self._valid.get(token)
        if claims is None:
            try:
                claims = jwt.decode(
                    token,
                    self.key.public_key(),
                    algorithms=["RS256"],
                    audience=GRAPH_RESOURCE,
                    options={"verify_exp": False},
                )
            except jwt.PyJWTError:
                raise errors.unauthenticated(
                    "IDX14100: JWT is not well formed or signature validation failed."
                ) from None
            if len(self._valid) > 10_000:
                self._valid.clear()
            self._valid[token] = claims
        if claims["exp"] <= time.time():
            raise errors.unauthenticated("Lifetime validation failed, the token is expired.")
        with self._lock:
            issued_gen = self._issued.get(claims.get("uti", ""), -1)
            if issued_gen < self._generation:
                raise errors.unauthenticated(
                    "Continuous access evaluation resulted in challenge with result: InteractionRequired and "
                    "code: TokenIssuedBeforeRevocationTimestamp"
                )
        return claims
