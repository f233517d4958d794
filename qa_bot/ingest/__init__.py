"""Ingest: files on disk (or uploaded) become `Article`s. Nothing here knows about the index.

articles.py       Article, and the loaders of .txt/.md (with `title:`/`date:` headers), .html,
                  .json, .jsonl, .pdf and .docx; every bad file is a named failure, not an abort
limits.py         how big a file of each type may be (the loader's and the uploader's limits)
titles.py         a title from the first line, for a .txt/.md article without a `title:` header
files.py          which files a folder holds, walked in order, links and non-files skipped
html_text.py      an HTML page's visible text, one paragraph per block, and its metadata
document_text.py  PDF and Word text, title and date from the file's properties
"""
