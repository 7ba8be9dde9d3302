"""HTTP routes that are not pages: `/image` (with its thumbnail cache) and the join downloads."""
