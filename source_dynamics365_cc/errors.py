"""The connector's exception types, and nothing else: what each failure is, not how an answer becomes one.

    AirbyteTracedException (CDK)
     +-- ConfigError            the user must change the configuration or the app registration
     +-- TokenError             Entra refused to issue a token (AADSTS code -> admin-readable text: auth/entra.py)
     +-- GraphUnavailable       Graph unreachable or busy past the waiting a command allows (check)
    Exception
     +-- FilterRefused          a refused sign-in filter (signins/refusal.py): a read's outcome; check's probe raises it
     +-- DeadlinePassed         a blocking call outlived its deadline (auth/deadline.py)
     +-- NotFromEntra           the login host answered, but not as Entra (auth/tokens.py turns it into a TokenError)
     +-- NotEntraDiscovery      the tenant's OpenID document is not Entra's (auth/tokens.py, likewise)
     +-- WaitLimitReached       check's waits on a busy Graph are used up (graph/throttle.py WaitLimit)

How Graph's answers are classified is graph/answers.py; the refusals a query expects are values its read returns on
the road (graph/road.py), never raised through the CDK's handler (an optional stream's 403 among them: the stream
then skips itself, graph/stream.py). Messages never carry secrets.
"""

from datetime import datetime
from typing import Optional

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException


class ConfigError(AirbyteTracedException):
    """A problem the user fixes in the configuration or in the Azure portal; never retried."""

    def __init__(self, message: str) -> None:
        super().__init__(message=message, internal_message=message, failure_type=FailureType.config_error)


class TokenError(AirbyteTracedException):
    """Entra answered the token request with an error; `transient` tells a retryable outage apart."""

    def __init__(self, message: str, transient: bool = False) -> None:
        failure = FailureType.transient_error if transient else FailureType.config_error
        super().__init__(message=message, internal_message=message, failure_type=failure)


class GraphUnavailable(AirbyteTracedException):
    """Microsoft Graph could not be reached or stayed busy through all the waiting a command allows; try later."""

    def __init__(self, message: str) -> None:
        super().__init__(message=message, internal_message=message, failure_type=FailureType.transient_error)


class FilterRefused(Exception):
    """Graph refused a sign-in query's `$filter` on its first request (HTTP 400), with its code, message and clock."""

    def __init__(self, code: str, message: str, graph_now: Optional[datetime]) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.graph_now = graph_now

    def explained(self) -> AirbyteTracedException:
        """The refusal as a failure the user can act on, in Graph's own words."""
        return AirbyteTracedException(
            message=(
                f"Microsoft Graph rejected the sign-in query (400 {self.code or 'BadRequest'}): "
                f"{self.message or 'no message'}. The sign_ins stream's state was not moved past it."
            ),
            failure_type=FailureType.system_error,
        )


class DeadlinePassed(Exception):
    """The call did not finish within its deadline; `seconds` is the deadline it had."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no answer within {seconds:.0f} s")
        self.seconds = seconds


class NotFromEntra(Exception):
    """The login host's answer is not Entra's JSON: a proxy, firewall or captive portal answered in its place."""

    def __init__(self, status: int, content_type: str) -> None:
        super().__init__(f"HTTP {status}, {content_type}")
        self.status = status
        self.content_type = content_type


class NotEntraDiscovery(Exception):
    """The tenant's OpenID configuration came back 200 but is not Entra's document: something in between answered."""

    def __init__(self, said: str) -> None:
        super().__init__(said)
        self.said = said


class WaitLimitReached(Exception):
    """The waits a `WaitLimit` allows are used up; `waited` says how many seconds went by in them."""

    def __init__(self, waited: float, status: Optional[int]) -> None:
        super().__init__(f"waited {waited:.0f} s")
        self.waited = waited
        self.status = status
