"""Credit-asset transfer pricing of IP-pledged loans (docs/model.md, section 7)."""
