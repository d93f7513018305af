"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2), JSON only, at ``/open311/v2``.

``services.py`` (the service list and definitions: one per ticket type, a complaint about a case, a
consultation per catalog item), ``requests.py`` (post a request, list and read requests, tokens of the
batch service), ``keys.py`` (API keys: issued and revoked by admins, stored hashed, rate-limited per
key), ``schemas.py`` and ``api.py`` (routes, the spec's error format). Public answers carry no
personal data: see ``requests.public_view``.
"""
