-- sending_keys
SELECT DISTINCT messages.sending_key 
FROM messages ORDER BY messages.sending_key;

-- attempt_span
SELECT min(attempts.started_at) AS min_1, max(attempts.started_at) AS max_1 
FROM attempts JOIN messages ON attempts.message_pk = messages.id 
WHERE attempts.started_at >= :started_at_1 AND attempts.started_at < :started_at_2 AND messages.sending_key = :sending_key_1;

-- status_counts
SELECT anon_1.status_then, count(*) AS count_1 
FROM (SELECT CASE WHEN (messages.updated_at < :updated_at_1) THEN messages.status WHEN (EXISTS (SELECT * 
FROM attempts 
WHERE attempts.message_pk = messages.id AND attempts.started_at < :started_at_1 AND (attempts.outcome NOT IN (__[POSTCOMPILE_outcome_1])))) THEN :param_1 ELSE :param_2 END AS status_then 
FROM messages 
WHERE (messages.status IN (__[POSTCOMPILE_status_1]) AND messages.updated_at >= :updated_at_2 AND messages.updated_at < :updated_at_3 OR messages.created_at < :created_at_1 AND (messages.status IN (__[POSTCOMPILE_status_2]) OR messages.updated_at >= :updated_at_4)) AND messages.sending_key = :sending_key_1) anon_1 GROUP BY anon_1.status_then;

-- attempt_buckets
SELECT anon_1.slot, anon_1.outcome, count(*) AS n 
FROM (SELECT CAST(floor((((CAST(attempts.started_at AS DATE) - DATE '1970-01-01') * 86400) - :param_1) / :param_2) AS INTEGER) AS slot, attempts.outcome AS outcome 
FROM attempts JOIN messages ON attempts.message_pk = messages.id 
WHERE attempts.started_at >= :started_at_1 AND attempts.started_at < :started_at_2 AND messages.sending_key = :sending_key_1) anon_1 GROUP BY anon_1.slot, anon_1.outcome;

-- cap_changes_from_attempts
SELECT anon_1.sending_key, anon_1.started_at, anon_1.cap 
FROM (SELECT messages.sending_key AS sending_key, attempts.started_at AS started_at, attempts.id AS id, attempts.cap AS cap, lag(attempts.cap) OVER (PARTITION BY messages.sending_key ORDER BY attempts.started_at, attempts.id) AS cap_before 
FROM attempts JOIN messages ON attempts.message_pk = messages.id 
WHERE attempts.started_at >= :started_at_1 AND attempts.started_at < :started_at_2 AND messages.sending_key = :sending_key_1) anon_1 
WHERE anon_1.cap_before IS NULL OR anon_1.cap != anon_1.cap_before ORDER BY anon_1.sending_key, anon_1.started_at, anon_1.id;

-- reply_groups
SELECT attempts.reply_code, attempts.enhanced_code, attempts.reply_text, attempts.outcome, attempts.rule, min(attempts.stage) AS stage, count(*) AS n, min(attempts.started_at) AS first_at, max(attempts.started_at) AS last_at 
FROM attempts JOIN messages ON attempts.message_pk = messages.id 
WHERE attempts.started_at >= :started_at_1 AND attempts.started_at < :started_at_2 AND attempts.outcome != :outcome_1 AND messages.sending_key = :sending_key_1 GROUP BY attempts.reply_code, attempts.enhanced_code, attempts.reply_text, attempts.outcome, attempts.rule ORDER BY n DESC, last_at DESC
 FETCH FIRST __[POSTCOMPILE_param_1] ROWS ONLY;

-- slowest_messages
SELECT messages.id, messages.message_id, messages.sending_key, messages.status, messages.created_at, messages.updated_at, messages.next_attempt_at, messages.attempts, messages.throttles, messages.last_code, messages.last_enhanced, messages.last_text, messages.last_stage, ((CAST(messages.updated_at AS DATE) - DATE '1970-01-01') * 86400) - ((CAST(messages.created_at AS DATE) - DATE '1970-01-01') * 86400) AS waited_s 
FROM messages 
WHERE messages.status IN (__[POSTCOMPILE_status_1]) AND messages.updated_at >= :updated_at_1 AND messages.updated_at < :updated_at_2 AND messages.sending_key = :sending_key_1 ORDER BY waited_s DESC, messages.id
 FETCH FIRST __[POSTCOMPILE_param_1] ROWS ONLY;

-- oldest_waiting
SELECT messages.id, messages.message_id, messages.sending_key, messages.status, messages.created_at, messages.updated_at, messages.next_attempt_at, messages.attempts, messages.throttles, messages.last_code, messages.last_enhanced, messages.last_text, messages.last_stage, CASE WHEN (messages.updated_at < :updated_at_1) THEN messages.status WHEN (EXISTS (SELECT * 
FROM attempts 
WHERE attempts.message_pk = messages.id AND attempts.started_at < :started_at_1 AND (attempts.outcome NOT IN (__[POSTCOMPILE_outcome_1])))) THEN :param_1 ELSE :param_2 END AS status_then 
FROM messages 
WHERE messages.created_at < :created_at_1 AND (messages.status IN (__[POSTCOMPILE_status_1]) OR messages.updated_at >= :updated_at_2) AND messages.sending_key = :sending_key_1 ORDER BY messages.created_at, messages.id
 FETCH FIRST __[POSTCOMPILE_param_3] ROWS ONLY;

-- oldest_waiting
SELECT attempts.message_pk, sum(CASE WHEN ((attempts.outcome NOT IN (__[POSTCOMPILE_outcome_1])) AND (attempts.outcome NOT IN (__[POSTCOMPILE_outcome_2]))) THEN :param_1 ELSE :param_2 END) AS tries, sum(CASE WHEN (attempts.outcome IN (__[POSTCOMPILE_outcome_3])) THEN :param_3 ELSE :param_4 END) AS throttles 
FROM attempts 
WHERE attempts.message_pk IN (__[POSTCOMPILE_message_pk_1]) AND attempts.started_at < :started_at_1 GROUP BY attempts.message_pk;

-- oldest_waiting
SELECT anon_1.message_pk, anon_1.stage, anon_1.reply_code, anon_1.enhanced_code, anon_1.reply_text, anon_1.newest 
FROM (SELECT attempts.message_pk AS message_pk, attempts.stage AS stage, attempts.reply_code AS reply_code, attempts.enhanced_code AS enhanced_code, attempts.reply_text AS reply_text, row_number() OVER (PARTITION BY attempts.message_pk ORDER BY attempts.started_at DESC, attempts.id DESC) AS newest 
FROM attempts 
WHERE attempts.message_pk IN (__[POSTCOMPILE_message_pk_1]) AND attempts.started_at < :started_at_1) anon_1 
WHERE anon_1.newest = :newest_1;

-- attempt_gaps
SELECT DISTINCT messages.sending_key 
FROM messages 
WHERE messages.created_at < :created_at_1 AND (messages.status IN (__[POSTCOMPILE_status_1]) OR messages.updated_at >= :updated_at_1) AND messages.sending_key = :sending_key_1;

-- attempt_gaps
SELECT anon_1.sending_key, anon_1.started_at, anon_1.outcome, anon_1.stage, anon_1.reply_code, anon_1.enhanced_code, anon_1.reply_text, anon_1.next_at, anon_1.next_queued_at 
FROM (SELECT messages.sending_key AS sending_key, attempts.started_at AS started_at, attempts.outcome AS outcome, attempts.stage AS stage, attempts.reply_code AS reply_code, attempts.enhanced_code AS enhanced_code, attempts.reply_text AS reply_text, lead(attempts.started_at) OVER (PARTITION BY messages.sending_key ORDER BY attempts.started_at, attempts.id) AS next_at, lead(messages.created_at) OVER (PARTITION BY messages.sending_key ORDER BY attempts.started_at, attempts.id) AS next_queued_at 
FROM attempts JOIN messages ON attempts.message_pk = messages.id 
WHERE attempts.started_at >= :started_at_1 AND attempts.started_at < :started_at_2 AND messages.sending_key = :sending_key_1) anon_1 
WHERE anon_1.next_at IS NULL OR ((CAST(anon_1.next_at AS DATE) - DATE '1970-01-01') * 86400) - ((CAST(anon_1.started_at AS DATE) - DATE '1970-01-01') * 86400) >= :param_1 ORDER BY anon_1.sending_key, anon_1.started_at;

-- quota_replies
SELECT messages.sending_key, attempts.started_at, attempts.stage, attempts.reply_code, attempts.enhanced_code, attempts.reply_text 
FROM attempts JOIN messages ON attempts.message_pk = messages.id 
WHERE attempts.started_at >= :started_at_1 AND attempts.started_at < :started_at_2 AND attempts.outcome = :outcome_1 AND messages.sending_key = :sending_key_1 ORDER BY attempts.started_at, attempts.id
 FETCH FIRST __[POSTCOMPILE_param_1] ROWS ONLY;

-- attempt_span
SELECT min(attempts.started_at) AS min_1, max(attempts.started_at) AS max_1 
FROM attempts 
WHERE attempts.started_at >= :started_at_1 AND attempts.started_at < :started_at_2;

-- status_counts
SELECT anon_1.status_then, count(*) AS count_1 
FROM (SELECT CASE WHEN (messages.updated_at < :updated_at_1) THEN messages.status WHEN (EXISTS (SELECT * 
FROM attempts 
WHERE attempts.message_pk = messages.id AND attempts.started_at < :started_at_1 AND (attempts.outcome NOT IN (__[POSTCOMPILE_outcome_1])))) THEN :param_1 ELSE :param_2 END AS status_then 
FROM messages 
WHERE messages.status IN (__[POSTCOMPILE_status_1]) AND messages.updated_at >= :updated_at_2 AND messages.updated_at < :updated_at_3 OR messages.created_at < :created_at_1 AND (messages.status IN (__[POSTCOMPILE_status_2]) OR messages.updated_at >= :updated_at_4)) anon_1 GROUP BY anon_1.status_then;

-- attempt_buckets
SELECT anon_1.slot, anon_1.outcome, count(*) AS n 
FROM (SELECT CAST(floor((((CAST(attempts.started_at AS DATE) - DATE '1970-01-01') * 86400) - :param_1) / :param_2) AS INTEGER) AS slot, attempts.outcome AS outcome 
FROM attempts 
WHERE attempts.started_at >= :started_at_1 AND attempts.started_at < :started_at_2) anon_1 GROUP BY anon_1.slot, anon_1.outcome;

-- cap_changes_from_attempts
SELECT anon_1.sending_key, anon_1.started_at, anon_1.cap 
FROM (SELECT messages.sending_key AS sending_key, attempts.started_at AS started_at, attempts.id AS id, attempts.cap AS cap, lag(attempts.cap) OVER (PARTITION BY messages.sending_key ORDER BY attempts.started_at, attempts.id) AS cap_before 
FROM attempts JOIN messages ON attempts.message_pk = messages.id 
WHERE attempts.started_at >= :started_at_1 AND attempts.started_at < :started_at_2) anon_1 
WHERE anon_1.cap_before IS NULL OR anon_1.cap != anon_1.cap_before ORDER BY anon_1.sending_key, anon_1.started_at, anon_1.id;

-- reply_groups
SELECT attempts.reply_code, attempts.enhanced_code, attempts.reply_text, attempts.outcome, attempts.rule, min(attempts.stage) AS stage, count(*) AS n, min(attempts.started_at) AS first_at, max(attempts.started_at) AS last_at 
FROM attempts 
WHERE attempts.started_at >= :started_at_1 AND attempts.started_at < :started_at_2 AND attempts.outcome != :outcome_1 GROUP BY attempts.reply_code, attempts.enhanced_code, attempts.reply_text, attempts.outcome, attempts.rule ORDER BY n DESC, last_at DESC
 FETCH FIRST __[POSTCOMPILE_param_1] ROWS ONLY;

-- slowest_messages
SELECT messages.id, messages.message_id, messages.sending_key, messages.status, messages.created_at, messages.updated_at, messages.next_attempt_at, messages.attempts, messages.throttles, messages.last_code, messages.last_enhanced, messages.last_text, messages.last_stage, ((CAST(messages.updated_at AS DATE) - DATE '1970-01-01') * 86400) - ((CAST(messages.created_at AS DATE) - DATE '1970-01-01') * 86400) AS waited_s 
FROM messages 
WHERE messages.status IN (__[POSTCOMPILE_status_1]) AND messages.updated_at >= :updated_at_1 AND messages.updated_at < :updated_at_2 ORDER BY waited_s DESC, messages.id
 FETCH FIRST __[POSTCOMPILE_param_1] ROWS ONLY;

-- oldest_waiting
SELECT messages.id, messages.message_id, messages.sending_key, messages.status, messages.created_at, messages.updated_at, messages.next_attempt_at, messages.attempts, messages.throttles, messages.last_code, messages.last_enhanced, messages.last_text, messages.last_stage, CASE WHEN (messages.updated_at < :updated_at_1) THEN messages.status WHEN (EXISTS (SELECT * 
FROM attempts 
WHERE attempts.message_pk = messages.id AND attempts.started_at < :started_at_1 AND (attempts.outcome NOT IN (__[POSTCOMPILE_outcome_1])))) THEN :param_1 ELSE :param_2 END AS status_then 
FROM messages 
WHERE messages.created_at < :created_at_1 AND (messages.status IN (__[POSTCOMPILE_status_1]) OR messages.updated_at >= :updated_at_2) ORDER BY messages.created_at, messages.id
 FETCH FIRST __[POSTCOMPILE_param_3] ROWS ONLY;

-- attempt_gaps
SELECT DISTINCT messages.sending_key 
FROM messages 
WHERE messages.created_at < :created_at_1 AND (messages.status IN (__[POSTCOMPILE_status_1]) OR messages.updated_at >= :updated_at_1);

-- attempt_gaps
SELECT anon_1.sending_key, anon_1.started_at, anon_1.outcome, anon_1.stage, anon_1.reply_code, anon_1.enhanced_code, anon_1.reply_text, anon_1.next_at, anon_1.next_queued_at 
FROM (SELECT messages.sending_key AS sending_key, attempts.started_at AS started_at, attempts.outcome AS outcome, attempts.stage AS stage, attempts.reply_code AS reply_code, attempts.enhanced_code AS enhanced_code, attempts.reply_text AS reply_text, lead(attempts.started_at) OVER (PARTITION BY messages.sending_key ORDER BY attempts.started_at, attempts.id) AS next_at, lead(messages.created_at) OVER (PARTITION BY messages.sending_key ORDER BY attempts.started_at, attempts.id) AS next_queued_at 
FROM attempts JOIN messages ON attempts.message_pk = messages.id 
WHERE attempts.started_at >= :started_at_1 AND attempts.started_at < :started_at_2) anon_1 
WHERE anon_1.next_at IS NULL OR ((CAST(anon_1.next_at AS DATE) - DATE '1970-01-01') * 86400) - ((CAST(anon_1.started_at AS DATE) - DATE '1970-01-01') * 86400) >= :param_1 ORDER BY anon_1.sending_key, anon_1.started_at;

-- quota_replies
SELECT messages.sending_key, attempts.started_at, attempts.stage, attempts.reply_code, attempts.enhanced_code, attempts.reply_text 
FROM attempts JOIN messages ON attempts.message_pk = messages.id 
WHERE attempts.started_at >= :started_at_1 AND attempts.started_at < :started_at_2 AND attempts.outcome = :outcome_1 ORDER BY attempts.started_at, attempts.id
 FETCH FIRST __[POSTCOMPILE_param_1] ROWS ONLY;

