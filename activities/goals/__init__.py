"""Goals: pure arithmetic (roll-up, key-result scoring, lapse, target suggestions from
history) in small modules with no I/O, and the store-facing pieces that use them."""
