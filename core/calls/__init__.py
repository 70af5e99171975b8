"""Agent assist on live calls: the transcript of a call put through to a person, the
live card the sidebar shows while it lasts, and the note on its ticket after it."""
