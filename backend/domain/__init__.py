"""The backend's domain: plain data and pure logic, importing only the standard library."""
