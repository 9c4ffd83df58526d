"""The audit log into a SIEM: RFC 5424 syslog over TCP or TLS, and OCSF-shaped exports.

- ``syslog``: one event as an RFC 5424 message (PRI by outcome, structured data, JSON MSG) and
  its octet-counting frame (RFC 6587)
- ``transport``: the destination, TLS (RFC 5425), one connection per batch, the acknowledgement
- ``store``: named destinations and their cursors in the vault (schema 8, ``audit_forwards``)
- ``forwarder``: send what was not acknowledged, once each and in order; follow the log
- ``verify``: the receiver's check of the chain over the messages it stored
- ``ocsf``: audit events as OCSF 1.3.0 JSON lines

docs/audit-forwarding.md describes the wire format, the acknowledgement and the OCSF mapping.
"""
