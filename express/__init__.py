"""Certificate delivery by courier (证照快递): delivery orders, courier adapters, tracking webhooks."""
