"""HTTP routers, one module per area; api.main includes them all.

Routers carry their full paths (`/api/auth/...`, `/api/kubeedge/...`, `/api/v1/...`):
the path decides which contract, and so which error envelope, a request belongs to.
"""
