// The lease table and the three statements, each one statement on the database's clock.
// Private to libcoord.
#pragma once

namespace jobs::pg::sql {

// name is bytea: a job name may hold any bytes (PostgreSQL's text cannot hold NUL).
inline constexpr const char* create_table = R"(CREATE TABLE IF NOT EXISTS jobs_lease (
  name bytea PRIMARY KEY,
  holder text NOT NULL DEFAULT '',
  epoch bigint NOT NULL DEFAULT 0,
  expires_at timestamptz,
  once_done boolean NOT NULL DEFAULT false,
  cooldown_until timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()))";

// $1 name, $2 holder, $3 lease in microseconds. Granted: ('granted', epoch, 0). Refused:
// ('pending' | 'once' | 'cooldown', epoch, microseconds of cooldown left). No row: the row was
// made by a transaction our snapshot does not see yet (try again).
inline constexpr const char* acquire = R"(WITH up AS (
  INSERT INTO jobs_lease AS l (name, holder, epoch, expires_at)
  VALUES ($1, $2, 1, now() + $3::bigint * interval '1 microsecond')
  ON CONFLICT (name) DO UPDATE
    SET holder = EXCLUDED.holder, epoch = l.epoch + 1, expires_at = EXCLUDED.expires_at, updated_at = now()
    WHERE (l.expires_at IS NULL OR l.expires_at <= now()) AND NOT l.once_done
      AND (l.cooldown_until IS NULL OR l.cooldown_until <= now())
  RETURNING l.epoch)
SELECT 'granted', epoch, 0::bigint FROM up
UNION ALL
SELECT CASE WHEN l.expires_at > now() THEN 'pending' WHEN l.once_done THEN 'once' ELSE 'cooldown' END,
       l.epoch,
       GREATEST(0, COALESCE((extract(epoch FROM l.cooldown_until - now()) * 1000000)::bigint, 0))
FROM jobs_lease l WHERE l.name = $1 AND NOT EXISTS (SELECT 1 FROM up))";

// $1 name, $2 holder, $3 lease in microseconds, $4 epoch. One row: renewed; none: lost (taken,
// or lapsed).
inline constexpr const char* renew = R"(UPDATE jobs_lease
SET expires_at = now() + $3::bigint * interval '1 microsecond', updated_at = now()
WHERE name = $1 AND holder = $2 AND epoch = $4::bigint AND expires_at > now())";

// $1 name, $2 holder, $3 epoch, $4 once done, $5 cooldown in microseconds (0: none). Releases
// and records the outcome in the same statement, then wakes the replicas that wait (NOTIFY
// jobs_lease, payload: the name in hex, or 'long' for names over 3990 bytes). One row:
// released; none: the lease was no longer ours (nothing recorded).
inline constexpr const char* release = R"(WITH r AS (
  UPDATE jobs_lease
  SET expires_at = NULL, holder = '', once_done = once_done OR $4::boolean,
      cooldown_until = CASE WHEN $5::bigint > 0 THEN now() + $5::bigint * interval '1 microsecond'
                            ELSE cooldown_until END,
      updated_at = now()
  WHERE name = $1 AND holder = $2 AND epoch = $3::bigint
  RETURNING name)
SELECT pg_notify('jobs_lease', CASE WHEN length(name) <= 3990 THEN encode(name, 'hex') ELSE 'long' END) FROM r)";

}  // namespace jobs::pg::sql
