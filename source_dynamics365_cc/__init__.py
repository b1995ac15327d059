"""Airbyte source for Dynamics 365 license usage through Microsoft Graph (client credentials)."""

from .source import SourceDynamics365Cc

__all__ = ["SourceDynamics365Cc"]
