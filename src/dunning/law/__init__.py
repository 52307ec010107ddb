"""The law of a market: default interest, lump sums and collection costs that reminders ask, from published rates."""
