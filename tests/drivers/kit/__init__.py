"""The driver test kit (issue 9): one protocol-conformance suite, harness/drivers/PROTOCOL.md, that every
SDK driver passes. See conftest.py for which SDKs it covers and how (DT_KIT_SDKS)."""
