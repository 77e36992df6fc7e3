"""SQLAlchemy 2.x storage for Lily (PostgreSQL in production, SQLite embedded).

Compose it as: `engine = create_engine_for(url)`, `factory = make_session_factory(engine)`,
then a `SqlUnitOfWork(factory)` per use case. Migrations: `lily_adapters.sql.migrate`.
"""

from lily_adapters.sql.mapping import start_mappers
from lily_adapters.sql.uow import SqlUnitOfWork, create_engine_for, make_session_factory

__all__ = ["SqlUnitOfWork", "create_engine_for", "make_session_factory", "start_mappers"]
