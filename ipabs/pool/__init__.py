"""The pool: IP types and assets, licence income, IP valuation, IP-pledged loans and loss-sharing, and their kernels."""
