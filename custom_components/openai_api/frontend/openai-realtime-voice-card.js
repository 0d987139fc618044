// Placeholder replaced by the voice card (issue 4).
