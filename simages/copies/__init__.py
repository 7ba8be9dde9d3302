"""Copy detection: how alike two photos are as copies (levels), and the methods behind the levels."""
