"""Key x set and set x set joins, one set against several, and what the app keeps of a set join (its
passing pairs, its score histogram).
"""
