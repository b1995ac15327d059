"""Microsoft Entra's answers to a token request, in words an admin can act on (AADSTS code -> instruction)."""

from typing import Any, Mapping

from ..errors import TokenError
from .permissions import PERMISSIONS_HINT

TRANSIENT_TOKEN_ERRORS = ("temporarily_unavailable", "server_error", "service_unavailable", "invalid_response")


AADSTS_MESSAGES: dict[str, str] = {
    "7000215": (
        "The client secret is wrong. Paste the secret's Value, not its Secret ID (the ID is a GUID; the value is "
        "about 40 characters and is shown only once). Azure portal: App registrations > your app > "
        "Certificates & secrets > Client secrets; create a new secret if the value is lost."
    ),
    "7000222": (
        "The client secret has expired. Create a new one in Azure portal: App registrations > your app > "
        "Certificates & secrets > Client secrets, and paste its Value here."
    ),
    "700016": (
        "No application with this Client ID exists in the tenant. Check the Application (client) ID in "
        "App registrations > your app > Overview, and that the Tenant ID is the tenant where the app is registered."
    ),
    "90002": "The tenant was not found. Check the Tenant ID: Microsoft Entra ID > Overview > Tenant ID.",
    "7000112": "The application is disabled. Enable it in Enterprise applications > your app > Properties > 'Enabled for users to sign-in?'.",
    "90094": "An administrator has not granted consent to this app. " + PERMISSIONS_HINT,
    "65001": "An administrator has not granted consent to this app. " + PERMISSIONS_HINT,
    "500011": "The Graph endpoint is not known to this tenant's cloud. Check 'cloud' and 'graph_endpoint'.",
    "700027": (
        "The certificate was not accepted. Upload this certificate (its public part) to App registrations > your app > "
        "Certificates & secrets > Certificates, and check that the private key belongs to it."
    ),
    "700024": "The certificate assertion has expired or is not yet valid: check this machine's clock.",
}


def token_error_message(result: Mapping[str, Any]) -> TokenError:
    """Turn msal's error result (Entra's JSON) into a `TokenError` an admin can act on."""
    codes = [str(code) for code in result.get("error_codes") or []]
    for code in codes:
        if code in AADSTS_MESSAGES:
            return TokenError(f"Sign-in to Microsoft Entra failed (AADSTS{code}): {AADSTS_MESSAGES[code]}")
    error = str(result.get("error") or "unknown_error")
    description = str(result.get("error_description") or "").split("\r\n")[0].split(" Trace ID:")[0]
    transient = error in TRANSIENT_TOKEN_ERRORS
    return TokenError(f"Microsoft Entra refused the token request ({error}): {description}", transient=transient)
