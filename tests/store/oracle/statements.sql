-- enqueue
INSERT INTO messages (message_id, sending_key, sender, recipients, status, attempts, throttles, next_attempt_at, created_at, updated_at) VALUES (:message_id, :sending_key, :sender, :recipients, :status, :attempts, :throttles, :next_attempt_at, :created_at, :updated_at) RETURNING messages.id INTO :ret_0;

-- enqueue
INSERT INTO message_contents (message_pk, content) VALUES (:message_pk, :content);

-- claim
SELECT messages.id, messages.message_id, messages.sender, messages.recipients, messages.attempts, messages.throttles, messages.created_at 
FROM messages 
WHERE messages.sending_key = :sending_key_1 AND messages.next_attempt_at <= SYS_EXTRACT_UTC(SYSTIMESTAMP) AND messages.status IN (__[POSTCOMPILE_status_1]) AND (messages.status != :status_2 OR messages.lease_owner != :lease_owner_1) ORDER BY messages.next_attempt_at, messages.id FOR UPDATE SKIP LOCKED;

-- claim
UPDATE messages SET status=:status, next_attempt_at=(SYS_EXTRACT_UTC(SYSTIMESTAMP) + NUMTODSINTERVAL(:param_1, 'SECOND')), updated_at=SYS_EXTRACT_UTC(SYSTIMESTAMP), lease_owner=:lease_owner, lease_expires_at=(SYS_EXTRACT_UTC(SYSTIMESTAMP) + NUMTODSINTERVAL(:param_1, 'SECOND')) WHERE messages.id IN (__[POSTCOMPILE_id_1]);

-- claim
SELECT message_contents.message_pk, message_contents.content 
FROM message_contents 
WHERE message_contents.message_pk IN (__[POSTCOMPILE_p_ids]);

-- record
INSERT INTO attempts (message_pk, started_at, duration_s, outcome, stage, reply_code, enhanced_code, reply_text, recipient, cap, in_flight, rule) VALUES (:message_pk, :started_at, :duration_s, :outcome, :stage, :reply_code, :enhanced_code, :reply_text, :recipient, :cap, :in_flight, :rule);

-- record
UPDATE messages SET status=:status, attempts=:attempts, throttles=:throttles, next_attempt_at=:next_attempt_at, updated_at=:updated_at, lease_owner=:lease_owner, lease_expires_at=:lease_expires_at, last_code=:last_code, last_enhanced=:last_enhanced, last_text=:last_text, last_stage=:last_stage WHERE messages.lease_owner = :p_owner AND messages.status = :status_1 AND messages.id IN (__[POSTCOMPILE_p_ids]);

-- record
UPDATE messages SET status=:p_status, attempts=:p_attempts, throttles=:p_throttles, next_attempt_at=:p_next_attempt_at, updated_at=:p_updated_at, lease_owner=:p_lease_owner, lease_expires_at=:p_lease_expires_at WHERE messages.id = :p_id AND messages.lease_owner = :p_owner AND messages.status = :status_1;

-- record
UPDATE messages SET status=:p_status, attempts=:p_attempts, throttles=:p_throttles, next_attempt_at=:p_next_attempt_at, updated_at=:p_updated_at, lease_owner=:p_lease_owner, lease_expires_at=:p_lease_expires_at, last_code=:p_last_code, last_enhanced=:p_last_enhanced, last_text=:p_last_text, last_stage=:p_last_stage WHERE messages.id = :p_id AND messages.lease_owner = :p_owner AND messages.status = :status_1;

-- record
UPDATE messages SET recipients=:p_recipients, status=:p_status, attempts=:p_attempts, throttles=:p_throttles, next_attempt_at=:p_next_attempt_at, updated_at=:p_updated_at, lease_owner=:p_lease_owner, lease_expires_at=:p_lease_expires_at WHERE messages.id = :p_id AND messages.lease_owner = :p_owner AND messages.status = :status_1;

-- record
UPDATE messages SET recipients=:p_recipients, status=:p_status, attempts=:p_attempts, throttles=:p_throttles, next_attempt_at=:p_next_attempt_at, updated_at=:p_updated_at, lease_owner=:p_lease_owner, lease_expires_at=:p_lease_expires_at, last_code=:p_last_code, last_enhanced=:p_last_enhanced, last_text=:p_last_text, last_stage=:p_last_stage WHERE messages.id = :p_id AND messages.lease_owner = :p_owner AND messages.status = :status_1;

-- renew
SELECT messages.id 
FROM messages 
WHERE messages.lease_owner = :lease_owner_1 AND messages.status = :status_1 FOR UPDATE SKIP LOCKED;

-- renew
UPDATE messages SET next_attempt_at=(SYS_EXTRACT_UTC(SYSTIMESTAMP) + NUMTODSINTERVAL(:param_1, 'SECOND')), lease_expires_at=(SYS_EXTRACT_UTC(SYSTIMESTAMP) + NUMTODSINTERVAL(:param_1, 'SECOND')) WHERE messages.id IN (__[POSTCOMPILE_id_1]) AND messages.lease_owner = :lease_owner_1 AND messages.status = :status_1;

-- release
UPDATE messages SET status=CASE WHEN (messages.attempts > :attempts_1 OR messages.throttles > :throttles_1) THEN :param_1 ELSE :param_2 END, next_attempt_at=SYS_EXTRACT_UTC(SYSTIMESTAMP), updated_at=SYS_EXTRACT_UTC(SYSTIMESTAMP), lease_owner=:lease_owner, lease_expires_at=:lease_expires_at WHERE messages.lease_owner = :lease_owner_1 AND messages.status = :status_1 AND messages.id IN (__[POSTCOMPILE_id_1]);

-- release
UPDATE messages SET status=CASE WHEN (messages.attempts > :attempts_1 OR messages.throttles > :throttles_1) THEN :param_1 ELSE :param_2 END, next_attempt_at=SYS_EXTRACT_UTC(SYSTIMESTAMP), updated_at=SYS_EXTRACT_UTC(SYSTIMESTAMP), lease_owner=:lease_owner, lease_expires_at=:lease_expires_at WHERE messages.lease_owner = :lease_owner_1 AND messages.status = :status_1;

-- next_due
SELECT min(messages.next_attempt_at) AS min_1 
FROM messages 
WHERE messages.sending_key = :sending_key_1 AND (messages.status != :status_1 OR messages.next_attempt_at <= SYS_EXTRACT_UTC(SYSTIMESTAMP));

-- counts
SELECT messages.status, count(*) AS count_1 
FROM messages GROUP BY messages.status;

-- unknown_attempts
SELECT count(*) AS count_1 
FROM attempts 
WHERE attempts.outcome = :outcome_1;

-- recent_failures
SELECT attempts.reply_code, attempts.enhanced_code, attempts.reply_text, attempts.rule, min(attempts.stage) AS stage, count(*) AS n, max(attempts.started_at) AS last_at 
FROM attempts 
WHERE attempts.started_at >= :started_at_1 AND attempts.outcome != :outcome_1 GROUP BY attempts.reply_code, attempts.enhanced_code, attempts.reply_text, attempts.rule ORDER BY n DESC, last_at DESC
 FETCH FIRST __[POSTCOMPILE_param_1] ROWS ONLY;

-- states
SELECT messages.id, messages.message_id, messages.status, messages.attempts, messages.throttles, messages.last_code, messages.last_enhanced, messages.last_text, messages.last_stage 
FROM messages 
WHERE messages.id IN (__[POSTCOMPILE_id_1]);

-- oldest_unsent
SELECT messages.message_id, messages.created_at, messages.status 
FROM messages 
WHERE messages.sending_key = :sending_key_1 AND messages.next_attempt_at IS NOT NULL ORDER BY messages.created_at, messages.id
 FETCH FIRST __[POSTCOMPILE_param_1] ROWS ONLY;

-- unsent_by_key
SELECT messages.sending_key, count(*) AS count_1 
FROM messages 
WHERE messages.next_attempt_at IS NOT NULL GROUP BY messages.sending_key;

-- adopt
UPDATE messages SET sending_key=:sending_key, updated_at=:updated_at WHERE messages.sending_key = :sending_key_1 AND messages.status IN (__[POSTCOMPILE_status_1]);

-- requeue
UPDATE source_rows SET reported_at=:reported_at WHERE source_rows.reported_at IS NOT NULL AND source_rows.message_pk IN (SELECT messages.id 
FROM messages 
WHERE messages.status IN (__[POSTCOMPILE_status_1]) AND (EXISTS (SELECT message_contents.message_pk 
FROM message_contents 
WHERE message_contents.message_pk = messages.id)));

-- requeue
UPDATE messages SET status=:status, attempts=:attempts, throttles=:throttles, next_attempt_at=:next_attempt_at, updated_at=:updated_at, lease_owner=:lease_owner, lease_expires_at=:lease_expires_at WHERE messages.status IN (__[POSTCOMPILE_status_1]) AND (EXISTS (SELECT message_contents.message_pk 
FROM message_contents 
WHERE message_contents.message_pk = messages.id));

-- requeue
UPDATE source_rows SET reported_at=:reported_at WHERE source_rows.reported_at IS NOT NULL AND source_rows.message_pk IN (SELECT messages.id 
FROM messages 
WHERE messages.status IN (__[POSTCOMPILE_status_1]) AND (EXISTS (SELECT message_contents.message_pk 
FROM message_contents 
WHERE message_contents.message_pk = messages.id)) AND messages.updated_at >= :updated_at_1);

-- requeue
UPDATE messages SET status=:status, attempts=:attempts, throttles=:throttles, next_attempt_at=:next_attempt_at, updated_at=:updated_at, lease_owner=:lease_owner, lease_expires_at=:lease_expires_at WHERE messages.status IN (__[POSTCOMPILE_status_1]) AND (EXISTS (SELECT message_contents.message_pk 
FROM message_contents 
WHERE message_contents.message_pk = messages.id)) AND messages.updated_at >= :updated_at_1;

-- pause_key
UPDATE messages SET next_attempt_at=(SYS_EXTRACT_UTC(SYSTIMESTAMP) + NUMTODSINTERVAL(:param_1, 'SECOND')) WHERE messages.sending_key = :sending_key_1 AND messages.status IN (__[POSTCOMPILE_status_1]) AND messages.next_attempt_at < (SYS_EXTRACT_UTC(SYSTIMESTAMP) + NUMTODSINTERVAL(:param_1, 'SECOND'));

-- source_states
SELECT source_rows.source_key, messages.status 
FROM source_rows JOIN messages ON messages.id = source_rows.message_pk 
WHERE source_rows.source_name = :source_name_1 AND source_rows.source_key IN (__[POSTCOMPILE_source_key_1]);

-- enqueue_from_source
INSERT INTO messages (message_id, sending_key, sender, recipients, status, attempts, throttles, next_attempt_at, created_at, updated_at, last_text) VALUES (:message_id, :sending_key, :sender, :recipients, :status, :attempts, :throttles, :next_attempt_at, :created_at, :updated_at, :last_text) RETURNING messages.id INTO :ret_0;

-- enqueue_from_source
INSERT INTO source_rows (message_pk, source_name, source_key, queued_at) VALUES (:message_pk, :source_name, :source_key, :queued_at);

-- unreported
SELECT source_rows.message_pk, source_rows.source_key, messages.status, messages.message_id, messages.attempts, messages.updated_at, messages.last_code, messages.last_enhanced, messages.last_text, messages.last_stage, message_contents.message_pk AS content_pk 
FROM source_rows JOIN messages ON messages.id = source_rows.message_pk LEFT OUTER JOIN message_contents ON message_contents.message_pk = messages.id 
WHERE source_rows.source_name = :source_name_1 AND source_rows.reported_at IS NULL AND messages.status IN (__[POSTCOMPILE_status_1]) ORDER BY source_rows.message_pk
 FETCH FIRST __[POSTCOMPILE_param_1] ROWS ONLY;

-- mark_reported
UPDATE source_rows SET reported_at=:reported_at WHERE source_rows.source_name = :source_name_1 AND source_rows.reported_at IS NULL AND source_rows.message_pk IN (__[POSTCOMPILE_message_pk_1]);

-- budget_view
SELECT sending_budgets.sending_key, sending_budgets.cap, sending_budgets.ceiling, sending_budgets.epoch, sending_budgets.version, sending_budgets.probe_interval_s, sending_budgets.last_cut_at, sending_budgets.last_reason, sending_budgets.last_observed, sending_budgets.updated_at, sending_budgets.wanted_by, sending_budgets.wanted_held, sending_budgets.wanted_at, sending_budgets.paused_until, sending_budgets.probes_held_until, SYS_EXTRACT_UTC(SYSTIMESTAMP) AS clock_now 
FROM sending_budgets 
WHERE sending_budgets.sending_key = :sending_key_1;

-- budget_view
SELECT connection_slots.slot_no, connection_slots.holder, connection_slots.expires_at, connection_slots.proven_at 
FROM connection_slots 
WHERE connection_slots.sending_key = :sending_key_1;

-- budget_view
INSERT INTO sending_budgets (sending_key, cap, ceiling, epoch, version, probe_interval_s, last_cut_at, last_reason, last_observed, updated_at) VALUES (:sending_key, :cap, :ceiling, :epoch, :version, :probe_interval_s, :last_cut_at, :last_reason, :last_observed, SYS_EXTRACT_UTC(SYSTIMESTAMP));

-- budget_view
INSERT INTO connection_slots (sending_key, slot_no) VALUES (:sending_key, :slot_no);

-- take_slot
SELECT connection_slots.slot_no 
FROM connection_slots 
WHERE connection_slots.sending_key = :sending_key_1 AND connection_slots.slot_no < (SELECT sending_budgets.cap 
FROM sending_budgets 
WHERE sending_budgets.sending_key = :sending_key_2) AND connection_slots.slot_no < :slot_no_1 AND (connection_slots.holder IS NULL OR connection_slots.expires_at <= SYS_EXTRACT_UTC(SYSTIMESTAMP)) ORDER BY connection_slots.slot_no FOR UPDATE SKIP LOCKED;

-- take_slot
UPDATE connection_slots SET holder=:holder, expires_at=(SYS_EXTRACT_UTC(SYSTIMESTAMP) + NUMTODSINTERVAL(:param_1, 'SECOND')), proven_at=:proven_at WHERE connection_slots.sending_key = :sending_key_1 AND connection_slots.slot_no = :slot_no_1;

-- take_slot
UPDATE sending_budgets SET wanted_by=:wanted_by, wanted_held=:wanted_held, wanted_at=:wanted_at WHERE sending_budgets.sending_key = :sending_key_1 AND sending_budgets.wanted_by = :wanted_by_1;

-- take_slot
SELECT sending_budgets.sending_key, sending_budgets.cap, sending_budgets.ceiling, sending_budgets.epoch, sending_budgets.version, sending_budgets.probe_interval_s, sending_budgets.last_cut_at, sending_budgets.last_reason, sending_budgets.last_observed, sending_budgets.updated_at, sending_budgets.wanted_by, sending_budgets.wanted_held, sending_budgets.wanted_at, sending_budgets.paused_until, sending_budgets.probes_held_until 
FROM sending_budgets 
WHERE sending_budgets.sending_key = :sending_key_1;

-- take_slot
UPDATE sending_budgets SET wanted_by=:wanted_by, wanted_held=:wanted_held, wanted_at=SYS_EXTRACT_UTC(SYSTIMESTAMP) WHERE sending_budgets.sending_key = :sending_key_1;

-- mark_slot
UPDATE connection_slots SET proven_at=SYS_EXTRACT_UTC(SYSTIMESTAMP) WHERE connection_slots.sending_key = :sending_key_1 AND connection_slots.slot_no = :slot_no_1 AND connection_slots.holder = :holder_1;

-- renew_slots
UPDATE connection_slots SET expires_at=(SYS_EXTRACT_UTC(SYSTIMESTAMP) + NUMTODSINTERVAL(:param_1, 'SECOND')) WHERE connection_slots.sending_key = :sending_key_1 AND connection_slots.holder = :holder_1;

-- renew_slots
SELECT connection_slots.slot_no 
FROM connection_slots 
WHERE connection_slots.sending_key = :sending_key_1 AND connection_slots.holder = :holder_1;

-- grow_budget
UPDATE sending_budgets SET cap=:cap, ceiling=:ceiling, epoch=:epoch, version=:version, probe_interval_s=:probe_interval_s, last_cut_at=:last_cut_at, last_reason=:last_reason, last_observed=:last_observed, updated_at=:updated_at WHERE sending_budgets.sending_key = :sending_key_1 AND sending_budgets.version = :version_1 AND (SELECT count(*) AS count_1 
FROM connection_slots 
WHERE connection_slots.sending_key = :sending_key_2 AND connection_slots.slot_no < :slot_no_1 AND connection_slots.holder IS NOT NULL AND connection_slots.expires_at > SYS_EXTRACT_UTC(SYSTIMESTAMP) AND connection_slots.proven_at IS NOT NULL) >= :param_1;

-- cut_budget
UPDATE sending_budgets SET cap=:cap, ceiling=:ceiling, epoch=:epoch, version=:version, probe_interval_s=:probe_interval_s, last_cut_at=:last_cut_at, last_reason=:last_reason, last_observed=:last_observed, updated_at=:updated_at WHERE sending_budgets.sending_key = :sending_key_1 AND sending_budgets.version = :version_1;

-- pause_budget
UPDATE sending_budgets SET paused_until=(SYS_EXTRACT_UTC(SYSTIMESTAMP) + NUMTODSINTERVAL(:param_1, 'SECOND')) WHERE sending_budgets.sending_key = :sending_key_1 AND (sending_budgets.paused_until IS NULL OR sending_budgets.paused_until < (SYS_EXTRACT_UTC(SYSTIMESTAMP) + NUMTODSINTERVAL(:param_1, 'SECOND')));

-- hold_probes
UPDATE sending_budgets SET probes_held_until=:probes_held_until WHERE sending_budgets.sending_key = :sending_key_1 AND (sending_budgets.probes_held_until IS NULL OR sending_budgets.probes_held_until < :probes_held_until_1);

-- release_slots
UPDATE connection_slots SET holder=:holder, expires_at=:expires_at, proven_at=:proven_at WHERE connection_slots.sending_key = :sending_key_1 AND connection_slots.holder = :holder_1 AND connection_slots.slot_no = :slot_no_1;

-- release_slots
UPDATE connection_slots SET holder=:holder, expires_at=:expires_at, proven_at=:proven_at WHERE connection_slots.sending_key = :sending_key_1 AND connection_slots.holder = :holder_1;

-- record_cap_changes
INSERT INTO cap_changes (sending_key, agent, changed_at, kind, old_value, new_value, reason, ceiling) VALUES (:sending_key, :agent, :changed_at, :kind, :old_value, :new_value, :reason, :ceiling);

-- cap_changes
SELECT cap_changes.id, cap_changes.sending_key, cap_changes.agent, cap_changes.changed_at, cap_changes.kind, cap_changes.old_value, cap_changes.new_value, cap_changes.reason, cap_changes.ceiling 
FROM cap_changes 
WHERE cap_changes.changed_at >= :changed_at_1 ORDER BY cap_changes.changed_at, cap_changes.id;

-- cap_changes
SELECT cap_changes.id, cap_changes.sending_key, cap_changes.agent, cap_changes.changed_at, cap_changes.kind, cap_changes.old_value, cap_changes.new_value, cap_changes.reason, cap_changes.ceiling 
FROM cap_changes 
WHERE cap_changes.changed_at >= :changed_at_1 AND cap_changes.changed_at < :changed_at_2 AND cap_changes.sending_key = :sending_key_1 ORDER BY cap_changes.changed_at, cap_changes.id;

-- take_tokens
UPDATE message_rates SET version=(message_rates.version + :version_1) WHERE message_rates.sending_key = :sending_key_1;

-- take_tokens
INSERT INTO message_rates (sending_key, per_minute, tokens, refilled_at, version) VALUES (:sending_key, :per_minute, :tokens, SYS_EXTRACT_UTC(SYSTIMESTAMP), :version);

-- take_tokens
SELECT message_rates.sending_key, message_rates.per_minute, message_rates.tokens, message_rates.refilled_at, message_rates.version, SYS_EXTRACT_UTC(SYSTIMESTAMP) AS clock_now 
FROM message_rates 
WHERE message_rates.sending_key = :sending_key_1;

-- take_tokens
UPDATE message_rates SET per_minute=:per_minute, tokens=:tokens, refilled_at=:refilled_at WHERE message_rates.sending_key = :sending_key_1;

-- charge_recipients
UPDATE day_budgets SET day_limit=:day_limit, version=(day_budgets.version + :version_1), updated_at=SYS_EXTRACT_UTC(SYSTIMESTAMP) WHERE day_budgets.sending_key = :sending_key_1;

-- charge_recipients
INSERT INTO day_budgets (sending_key, day_limit, version, updated_at) VALUES (:sending_key, :day_limit, :version, SYS_EXTRACT_UTC(SYSTIMESTAMP));

-- charge_recipients
SELECT coalesce(sum(recipient_charges.recipients), :coalesce_2) AS coalesce_1 
FROM recipient_charges 
WHERE recipient_charges.sending_key = :sending_key_1 AND recipient_charges.charged_at > (SYS_EXTRACT_UTC(SYSTIMESTAMP) + NUMTODSINTERVAL(:param_1, 'SECOND'));

-- charge_recipients
SELECT recipient_charges.id 
FROM recipient_charges 
WHERE recipient_charges.sending_key = :sending_key_1 AND recipient_charges.charged_at <= (SYS_EXTRACT_UTC(SYSTIMESTAMP) + NUMTODSINTERVAL(:param_1, 'SECOND')) ORDER BY recipient_charges.charged_at
 FETCH FIRST __[POSTCOMPILE_param_2] ROWS ONLY;

-- charge_recipients
INSERT INTO recipient_charges (sending_key, charged_at, recipients) VALUES (:sending_key, SYS_EXTRACT_UTC(SYSTIMESTAMP), :recipients) RETURNING recipient_charges.id INTO :ret_0;

-- charge_recipients
UPDATE recipient_charges SET recipients=CASE WHEN (recipient_charges.recipients > :back) THEN recipient_charges.recipients - :back ELSE :param_1 END WHERE recipient_charges.id = :charge_id;

-- charge_recipients
UPDATE recipient_charges SET charged_at=SYS_EXTRACT_UTC(SYSTIMESTAMP) WHERE recipient_charges.id = :charge_id;

-- charge_recipients
SELECT SYS_EXTRACT_UTC(SYSTIMESTAMP) AS db_now_1 FROM DUAL;

-- charge_recipients
SELECT recipient_charges.charged_at, recipient_charges.recipients 
FROM recipient_charges 
WHERE recipient_charges.sending_key = :sending_key_1 AND recipient_charges.recipients > :recipients_1 AND recipient_charges.charged_at > (SYS_EXTRACT_UTC(SYSTIMESTAMP) + NUMTODSINTERVAL(:param_1, 'SECOND')) ORDER BY recipient_charges.charged_at;

-- recipient_usage
SELECT day_budgets.sending_key, day_budgets.day_limit, (SELECT coalesce(sum(recipient_charges.recipients), :coalesce_2) AS coalesce_1 
FROM recipient_charges 
WHERE recipient_charges.sending_key = day_budgets.sending_key AND recipient_charges.charged_at > (SYS_EXTRACT_UTC(SYSTIMESTAMP) + NUMTODSINTERVAL(:param_1, 'SECOND'))) AS used 
FROM day_budgets ORDER BY day_budgets.sending_key;

-- record
INSERT INTO attempts (message_pk, started_at, duration_s, outcome, stage, reply_code, enhanced_code, reply_text, recipient, cap, in_flight, rule) VALUES (:message_pk, :started_at, :duration_s, :outcome, :stage, :reply_code, :enhanced_code, :reply_text, :recipient, :cap, :in_flight, :rule) RETURNING attempts.id INTO :ret_0;

-- purge
SELECT count(*) AS count_1 
FROM messages 
WHERE messages.status IN (__[POSTCOMPILE_status_1]) AND messages.updated_at < :updated_at_1 AND NOT (EXISTS (SELECT source_rows.message_pk 
FROM source_rows 
WHERE source_rows.message_pk = messages.id AND source_rows.reported_at IS NULL));

-- purge
SELECT count(*) AS count_1 
FROM attempts 
WHERE attempts.message_pk IN (SELECT messages.id 
FROM messages 
WHERE messages.status IN (__[POSTCOMPILE_status_1]) AND messages.updated_at < :updated_at_1 AND NOT (EXISTS (SELECT source_rows.message_pk 
FROM source_rows 
WHERE source_rows.message_pk = messages.id AND source_rows.reported_at IS NULL)));

-- purge
SELECT count(*) AS count_1 
FROM source_rows 
WHERE source_rows.message_pk IN (SELECT messages.id 
FROM messages 
WHERE messages.status IN (__[POSTCOMPILE_status_1]) AND messages.updated_at < :updated_at_1 AND NOT (EXISTS (SELECT source_rows.message_pk 
FROM source_rows 
WHERE source_rows.message_pk = messages.id AND source_rows.reported_at IS NULL)));

-- purge
SELECT count(*) AS count_1 
FROM cap_changes 
WHERE cap_changes.changed_at < :changed_at_1;

-- purge
SELECT messages.id 
FROM messages 
WHERE messages.status IN (__[POSTCOMPILE_status_1]) AND messages.updated_at < :updated_at_1 AND NOT (EXISTS (SELECT source_rows.message_pk 
FROM source_rows 
WHERE source_rows.message_pk = messages.id AND source_rows.reported_at IS NULL)) ORDER BY messages.id
 FETCH FIRST __[POSTCOMPILE_param_1] ROWS ONLY;

-- purge
SELECT messages.id 
FROM messages 
WHERE messages.id IN (__[POSTCOMPILE_id_1]) AND messages.status IN (__[POSTCOMPILE_status_1]) AND messages.updated_at < :updated_at_1 AND NOT (EXISTS (SELECT source_rows.message_pk 
FROM source_rows 
WHERE source_rows.message_pk = messages.id AND source_rows.reported_at IS NULL)) FOR UPDATE SKIP LOCKED;

-- purge
SELECT source_rows.message_pk 
FROM source_rows 
WHERE source_rows.message_pk IN (__[POSTCOMPILE_message_pk_1]);

-- purge
SELECT source_rows.message_pk 
FROM source_rows 
WHERE source_rows.message_pk IN (__[POSTCOMPILE_message_pk_1]) FOR UPDATE SKIP LOCKED;

-- purge
DELETE FROM attempts WHERE attempts.message_pk IN (SELECT messages.id 
FROM messages 
WHERE messages.id IN (__[POSTCOMPILE_id_1]) AND messages.status IN (__[POSTCOMPILE_status_1]) AND messages.updated_at < :updated_at_1 AND NOT (EXISTS (SELECT source_rows.message_pk 
FROM source_rows 
WHERE source_rows.message_pk = messages.id AND source_rows.reported_at IS NULL)));

-- purge
DELETE FROM message_contents WHERE message_contents.message_pk IN (SELECT messages.id 
FROM messages 
WHERE messages.id IN (__[POSTCOMPILE_id_1]) AND messages.status IN (__[POSTCOMPILE_status_1]) AND messages.updated_at < :updated_at_1 AND NOT (EXISTS (SELECT source_rows.message_pk 
FROM source_rows 
WHERE source_rows.message_pk = messages.id AND source_rows.reported_at IS NULL)));

-- purge
DELETE FROM source_rows WHERE source_rows.message_pk IN (SELECT messages.id 
FROM messages 
WHERE messages.id IN (__[POSTCOMPILE_id_1]) AND messages.status IN (__[POSTCOMPILE_status_1]) AND messages.updated_at < :updated_at_1 AND NOT (EXISTS (SELECT source_rows.message_pk 
FROM source_rows 
WHERE source_rows.message_pk = messages.id AND source_rows.reported_at IS NULL)));

-- purge
DELETE FROM messages WHERE messages.id IN (__[POSTCOMPILE_id_1]) AND messages.status IN (__[POSTCOMPILE_status_1]) AND messages.updated_at < :updated_at_1 AND NOT (EXISTS (SELECT source_rows.message_pk 
FROM source_rows 
WHERE source_rows.message_pk = messages.id AND source_rows.reported_at IS NULL));

-- purge
SELECT cap_changes.id 
FROM cap_changes 
WHERE cap_changes.changed_at < :changed_at_1 ORDER BY cap_changes.id
 FETCH FIRST __[POSTCOMPILE_param_1] ROWS ONLY;

-- purge
DELETE FROM cap_changes WHERE cap_changes.id IN (__[POSTCOMPILE_id_1]);

