"""The limited strategy's machinery: the pump, each caller's call, and the upstream's quota."""
