"""What every door into Switchboard shares in a request (a vendor's webhook, an app's
API): the app's database and sessions (``db``), the hand-offs to the workers
(``enqueue``), the inbox every verified event is recorded in (``inbox``), the shared
payload fields (``payloads``) and how failures are answered (``errors``). Flask-bound,
so it sits above the core and below the vendors and apps."""
