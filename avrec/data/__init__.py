"""avrec/data"""
