-- The seed's table and its three indexes, exactly as the seed describes them.
CREATE TABLE IF NOT EXISTS thread_logs (
    id BIGSERIAL PRIMARY KEY,
    thread_id TEXT,                      -- Associated workflow thread
    message TEXT NOT NULL,               -- Log message content
    created_at TIMESTAMP WITH TIME ZONE, -- When the log was created
    level TEXT DEFAULT 'INFO'            -- Log level (INFO, WARN, ERROR, DEBUG)
);

CREATE INDEX IF NOT EXISTS idx_thread_logs_thread_id ON thread_logs (thread_id);
CREATE INDEX IF NOT EXISTS idx_thread_logs_created_at ON thread_logs (created_at);
CREATE INDEX IF NOT EXISTS idx_thread_logs_thread_time ON thread_logs (thread_id, created_at);
