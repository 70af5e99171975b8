"""Fake vendor servers on 127.0.0.1 for tests whose SDKs no request-mocking library can
see (the openai 3.x client runs on httpx2). A real socket means the SDK's own request
building, retries and error parsing are exercised, not stubbed."""
