-- sending_keys
SELECT DISTINCT messages.sending_key 
FROM messages ORDER BY messages.sending_key;

-- attempt_span
SELECT min(attempts.started_at) AS min_1, max(attempts.started_at) AS max_1 
FROM attempts JOIN messages ON attempts.message_pk = messages.id 
WHERE attempts.started_at >= :started_at_1 AND messages.sending_key = :sending_key_1;

-- status_counts
SELECT messages.status, count(*) AS count_1 
FROM messages 
WHERE (messages.status IN (__[POSTCOMPILE_status_1]) AND messages.updated_at >= :updated_at_1 OR messages.status IN (__[POSTCOMPILE_status_2])) AND messages.sending_key = :sending_key_1 GROUP BY messages.status;

-- attempt_buckets
SELECT anon_1.slot, anon_1.outcome, count(*) AS n 
FROM (SELECT CAST(floor((((CAST(attempts.started_at AS DATE) - DATE '1970-01-01') * 86400) - :param_1) / :param_2) AS INTEGER) AS slot, attempts.outcome AS outcome 
FROM attempts JOIN messages ON attempts.message_pk = messages.id 
WHERE attempts.started_at >= :started_at_1 AND attempts.started_at < :started_at_2 AND messages.sending_key = :sending_key_1) anon_1 GROUP BY anon_1.slot, anon_1.outcome;

-- cap_changes_from_attempts
SELECT anon_1.sending_key, anon_1.started_at, anon_1.cap 
FROM (SELECT messages.sending_key AS sending_key, attempts.started_at AS started_at, attempts.id AS id, attempts.cap AS cap, lag(attempts.cap) OVER (PARTITION BY messages.sending_key ORDER BY attempts.started_at, attempts.id) AS cap_before 
FROM attempts JOIN messages ON attempts.message_pk = messages.id 
WHERE attempts.started_at >= :started_at_1 AND messages.sending_key = :sending_key_1) anon_1 
WHERE anon_1.cap_before IS NULL OR anon_1.cap != anon_1.cap_before ORDER BY anon_1.sending_key, anon_1.started_at, anon_1.id;

-- reply_groups
SELECT attempts.reply_code, attempts.enhanced_code, attempts.reply_text, attempts.outcome, attempts.rule, min(attempts.stage) AS stage, count(*) AS n, min(attempts.started_at) AS first_at, max(attempts.started_at) AS last_at 
FROM attempts JOIN messages ON attempts.message_pk = messages.id 
WHERE attempts.started_at >= :started_at_1 AND attempts.outcome != :outcome_1 AND messages.sending_key = :sending_key_1 GROUP BY attempts.reply_code, attempts.enhanced_code, attempts.reply_text, attempts.outcome, attempts.rule ORDER BY n DESC, last_at DESC
 FETCH FIRST __[POSTCOMPILE_param_1] ROWS ONLY;

-- reply_groups
SELECT messages.message_id 
FROM messages JOIN attempts ON attempts.message_pk = messages.id 
WHERE attempts.started_at >= :started_at_1 AND attempts.outcome != :outcome_1 AND messages.sending_key = :sending_key_1 AND attempts.reply_code = :reply_code_1 AND attempts.enhanced_code = :enhanced_code_1 AND attempts.reply_text = :reply_text_1 AND attempts.outcome = :outcome_2 AND attempts.rule = :rule_1 GROUP BY messages.message_id ORDER BY max(attempts.started_at) DESC, messages.message_id
 FETCH FIRST __[POSTCOMPILE_param_1] ROWS ONLY;

-- slowest_messages
SELECT messages.id, messages.message_id, messages.sending_key, messages.status, messages.created_at, messages.updated_at, messages.next_attempt_at, messages.attempts, messages.throttles, messages.last_code, messages.last_enhanced, messages.last_text, messages.last_stage, ((CAST(messages.updated_at AS DATE) - DATE '1970-01-01') * 86400) - ((CAST(messages.created_at AS DATE) - DATE '1970-01-01') * 86400) AS waited_s 
FROM messages 
WHERE messages.status IN (__[POSTCOMPILE_status_1]) AND messages.updated_at >= :updated_at_1 AND messages.sending_key = :sending_key_1 ORDER BY waited_s DESC, messages.id
 FETCH FIRST __[POSTCOMPILE_param_1] ROWS ONLY;

-- oldest_waiting
SELECT messages.id, messages.message_id, messages.sending_key, messages.status, messages.created_at, messages.updated_at, messages.next_attempt_at, messages.attempts, messages.throttles, messages.last_code, messages.last_enhanced, messages.last_text, messages.last_stage 
FROM messages 
WHERE messages.status IN (__[POSTCOMPILE_status_1]) AND messages.sending_key = :sending_key_1 ORDER BY messages.created_at, messages.id
 FETCH FIRST __[POSTCOMPILE_param_1] ROWS ONLY;

-- attempt_gaps
SELECT messages.sending_key, count(*) AS count_1 
FROM messages 
WHERE messages.next_attempt_at IS NOT NULL GROUP BY messages.sending_key;

-- attempt_gaps
SELECT anon_1.sending_key, anon_1.started_at, anon_1.outcome, anon_1.stage, anon_1.reply_code, anon_1.enhanced_code, anon_1.reply_text, anon_1.next_at, anon_1.next_queued_at 
FROM (SELECT messages.sending_key AS sending_key, attempts.started_at AS started_at, attempts.outcome AS outcome, attempts.stage AS stage, attempts.reply_code AS reply_code, attempts.enhanced_code AS enhanced_code, attempts.reply_text AS reply_text, lead(attempts.started_at) OVER (PARTITION BY messages.sending_key ORDER BY attempts.started_at, attempts.id) AS next_at, lead(messages.created_at) OVER (PARTITION BY messages.sending_key ORDER BY attempts.started_at, attempts.id) AS next_queued_at 
FROM attempts JOIN messages ON attempts.message_pk = messages.id 
WHERE attempts.started_at >= :started_at_1 AND messages.sending_key = :sending_key_1) anon_1 
WHERE anon_1.next_at IS NULL OR ((CAST(anon_1.next_at AS DATE) - DATE '1970-01-01') * 86400) - ((CAST(anon_1.started_at AS DATE) - DATE '1970-01-01') * 86400) >= :param_1 ORDER BY anon_1.sending_key, anon_1.started_at;

-- quota_replies
SELECT messages.sending_key, attempts.started_at, attempts.stage, attempts.reply_code, attempts.enhanced_code, attempts.reply_text 
FROM attempts JOIN messages ON attempts.message_pk = messages.id 
WHERE attempts.started_at >= :started_at_1 AND attempts.outcome = :outcome_1 AND messages.sending_key = :sending_key_1 ORDER BY attempts.started_at, attempts.id
 FETCH FIRST __[POSTCOMPILE_param_1] ROWS ONLY;

-- attempt_span
SELECT min(attempts.started_at) AS min_1, max(attempts.started_at) AS max_1 
FROM attempts 
WHERE attempts.started_at >= :started_at_1;

-- status_counts
SELECT messages.status, count(*) AS count_1 
FROM messages 
WHERE messages.status IN (__[POSTCOMPILE_status_1]) AND messages.updated_at >= :updated_at_1 OR messages.status IN (__[POSTCOMPILE_status_2]) GROUP BY messages.status;

-- attempt_buckets
SELECT anon_1.slot, anon_1.outcome, count(*) AS n 
FROM (SELECT CAST(floor((((CAST(attempts.started_at AS DATE) - DATE '1970-01-01') * 86400) - :param_1) / :param_2) AS INTEGER) AS slot, attempts.outcome AS outcome 
FROM attempts 
WHERE attempts.started_at >= :started_at_1 AND attempts.started_at < :started_at_2) anon_1 GROUP BY anon_1.slot, anon_1.outcome;

-- cap_changes_from_attempts
SELECT anon_1.sending_key, anon_1.started_at, anon_1.cap 
FROM (SELECT messages.sending_key AS sending_key, attempts.started_at AS started_at, attempts.id AS id, attempts.cap AS cap, lag(attempts.cap) OVER (PARTITION BY messages.sending_key ORDER BY attempts.started_at, attempts.id) AS cap_before 
FROM attempts JOIN messages ON attempts.message_pk = messages.id 
WHERE attempts.started_at >= :started_at_1) anon_1 
WHERE anon_1.cap_before IS NULL OR anon_1.cap != anon_1.cap_before ORDER BY anon_1.sending_key, anon_1.started_at, anon_1.id;

-- reply_groups
SELECT attempts.reply_code, attempts.enhanced_code, attempts.reply_text, attempts.outcome, attempts.rule, min(attempts.stage) AS stage, count(*) AS n, min(attempts.started_at) AS first_at, max(attempts.started_at) AS last_at 
FROM attempts 
WHERE attempts.started_at >= :started_at_1 AND attempts.outcome != :outcome_1 GROUP BY attempts.reply_code, attempts.enhanced_code, attempts.reply_text, attempts.outcome, attempts.rule ORDER BY n DESC, last_at DESC
 FETCH FIRST __[POSTCOMPILE_param_1] ROWS ONLY;

-- reply_groups
SELECT messages.message_id 
FROM messages JOIN attempts ON attempts.message_pk = messages.id 
WHERE attempts.started_at >= :started_at_1 AND attempts.outcome != :outcome_1 AND attempts.reply_code = :reply_code_1 AND attempts.enhanced_code = :enhanced_code_1 AND attempts.reply_text = :reply_text_1 AND attempts.outcome = :outcome_2 AND attempts.rule = :rule_1 GROUP BY messages.message_id ORDER BY max(attempts.started_at) DESC, messages.message_id
 FETCH FIRST __[POSTCOMPILE_param_1] ROWS ONLY;

-- slowest_messages
SELECT messages.id, messages.message_id, messages.sending_key, messages.status, messages.created_at, messages.updated_at, messages.next_attempt_at, messages.attempts, messages.throttles, messages.last_code, messages.last_enhanced, messages.last_text, messages.last_stage, ((CAST(messages.updated_at AS DATE) - DATE '1970-01-01') * 86400) - ((CAST(messages.created_at AS DATE) - DATE '1970-01-01') * 86400) AS waited_s 
FROM messages 
WHERE messages.status IN (__[POSTCOMPILE_status_1]) AND messages.updated_at >= :updated_at_1 ORDER BY waited_s DESC, messages.id
 FETCH FIRST __[POSTCOMPILE_param_1] ROWS ONLY;

-- oldest_waiting
SELECT messages.id, messages.message_id, messages.sending_key, messages.status, messages.created_at, messages.updated_at, messages.next_attempt_at, messages.attempts, messages.throttles, messages.last_code, messages.last_enhanced, messages.last_text, messages.last_stage 
FROM messages 
WHERE messages.status IN (__[POSTCOMPILE_status_1]) ORDER BY messages.created_at, messages.id
 FETCH FIRST __[POSTCOMPILE_param_1] ROWS ONLY;

-- attempt_gaps
SELECT anon_1.sending_key, anon_1.started_at, anon_1.outcome, anon_1.stage, anon_1.reply_code, anon_1.enhanced_code, anon_1.reply_text, anon_1.next_at, anon_1.next_queued_at 
FROM (SELECT messages.sending_key AS sending_key, attempts.started_at AS started_at, attempts.outcome AS outcome, attempts.stage AS stage, attempts.reply_code AS reply_code, attempts.enhanced_code AS enhanced_code, attempts.reply_text AS reply_text, lead(attempts.started_at) OVER (PARTITION BY messages.sending_key ORDER BY attempts.started_at, attempts.id) AS next_at, lead(messages.created_at) OVER (PARTITION BY messages.sending_key ORDER BY attempts.started_at, attempts.id) AS next_queued_at 
FROM attempts JOIN messages ON attempts.message_pk = messages.id 
WHERE attempts.started_at >= :started_at_1) anon_1 
WHERE anon_1.next_at IS NULL OR ((CAST(anon_1.next_at AS DATE) - DATE '1970-01-01') * 86400) - ((CAST(anon_1.started_at AS DATE) - DATE '1970-01-01') * 86400) >= :param_1 ORDER BY anon_1.sending_key, anon_1.started_at;

-- quota_replies
SELECT messages.sending_key, attempts.started_at, attempts.stage, attempts.reply_code, attempts.enhanced_code, attempts.reply_text 
FROM attempts JOIN messages ON attempts.message_pk = messages.id 
WHERE attempts.started_at >= :started_at_1 AND attempts.outcome = :outcome_1 ORDER BY attempts.started_at, attempts.id
 FETCH FIRST __[POSTCOMPILE_param_1] ROWS ONLY;

