"""Pinjian storage: one schema on SQLite and PostgreSQL, spoken to in domain records.

Import what you use from its module (the package re-exports nothing)::

    from storage.db import Database
    from storage.evidence import FileEvidenceStore

    db = Database(url, files=FileEvidenceStore(evidence_dir, max_bytes=...))
    await db.open()                      # SchemaMismatch if `pinjian db upgrade` is needed
    async with db.transaction(event_key="tg:update:42") as tx:
        person = await tx.people.get(7)
        await tx.outbox.enqueue(...)

storage/API.md lists the repositories and their methods.
"""
