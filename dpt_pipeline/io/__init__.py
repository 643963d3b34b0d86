"""What every stage shares with the machine, below all of them: text decoding and separator sniffing
(`text`, the one place), files a staffer points dpt at and private outputs (`files`), CSV for a
spreadsheet (`spreadsheet`), the published DuckDB between runs (`database`), the lock, the staging folder
and the run record (`runs`), hashing and worker processes. Imports no stage.
"""
