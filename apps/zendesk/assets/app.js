/*
 * Switchboard ticket sidebar (Zendesk Apps Framework v2).
 *
 * Why it is built this way:
 * - Every call to Switchboard goes through client.request({secure: true}) so that
 *   Zendesk's proxy, not the browser, adds the account API key ({{setting.token}}):
 *   the key never reaches an agent's machine.
 * - All backend text (customer messages, suggestions) is put in the page with
 *   textContent, never innerHTML, and only http(s) source links become links:
 *   a customer's message must not be able to run script in the agent's Zendesk.
 * - Plain DOM, no framework: the app is small, and nothing has to be built before
 *   Zendesk can serve it.
 * - Every call carries the agent ZAF says is signed in (currentUser: id, name, email),
 *   so Switchboard audits what they do under their Zendesk user id, not as "agent".
 */
(function () {
  'use strict';

  // The English UI strings. They must equal "ui" in translations/en.json (a test
  // checks it): Zendesk serves only assets/ to the iframe, so the app cannot read
  // the translation file at run time.
  /* ui-strings:begin */
  var STRINGS = {
    "loading": "Loading Switchboard context…",
    "loaded": "Switchboard context loaded.",
    "customer_heading": "Customer",
    "unknown_customer": "Unknown customer",
    "tier": "Tier",
    "language": "Language",
    "translated": "Translated",
    "identities": "Identities",
    "identity_phone": "Phone",
    "identity_whatsapp": "WhatsApp",
    "identity_email": "Email",
    "no_identities": "No identities recorded.",
    "channels": "Channels",
    "handoff_heading": "Why this reached you",
    "trigger": "Trigger",
    "detail": "Detail",
    "summary": "Summary",
    "no_handoff": "The bot did not hand this conversation over.",
    "insight_heading": "Intent and sentiment",
    "intent": "Intent",
    "confidence": "{percent}% confident",
    "sentiment": "Sentiment",
    "trend": "Trend",
    "not_known": "not known",
    "timeline_show": "Show conversation timeline ({count})",
    "timeline_hide": "Hide conversation timeline ({count})",
    "timeline_empty": "No messages yet.",
    "author_customer": "Customer",
    "author_bot": "Bot",
    "author_agent": "Agent",
    "suggestions_heading": "Suggested replies",
    "suggestions_empty": "No suggestions for this ticket yet.",
    "suggestion_label": "Suggestion {number}",
    "sources": "Sources",
    "engine": "Drafted by {engine}",
    "opens_new_tab": "(opens in a new tab)",
    "insert": "Insert",
    "insert_label": "Insert suggestion {number} into the reply",
    "helpful_label": "Suggestion {number} was helpful",
    "not_helpful_label": "Suggestion {number} was not helpful",
    "reason_label": "What was wrong with it? (optional)",
    "send_feedback": "Send feedback",
    "cancel": "Cancel",
    "inserted": "Suggestion {number} inserted into the reply.",
    "insert_failed": "Could not insert suggestion {number} into the reply. Try again.",
    "insert_unrecorded": "Suggestion {number} inserted, but Switchboard could not record it.",
    "thanks_up": "Thanks: suggestion {number} marked as helpful.",
    "thanks_down": "Thanks: feedback on suggestion {number} sent.",
    "feedback_failed": "Could not send feedback on suggestion {number}. Try again.",
    "actions_heading": "Next best actions",
    "actions_empty": "No actions suggested.",
    "governed_heading": "Actions",
    "governed_loading": "Loading actions…",
    "governed_failed": "Could not load the actions for this ticket ({reason}).",
    "governed_reload": "Reload actions",
    "governed_empty": "No actions are available for this ticket.",
    "governed_suggested": "Suggested next step",
    "governed_more": "Other actions",
    "governed_activity": "Actions on this ticket",
    "governed_activity_empty": "No actions on this ticket yet.",
    "risk_low": "low risk",
    "risk_medium": "medium risk",
    "risk_high": "high risk",
    "asks_confirmation": "asks you to confirm",
    "optional": "(optional)",
    "list_hint": "Separate several with commas.",
    "not_a_number": "Enter a number.",
    "run": "Run",
    "run_label": "Run {action}",
    "running": "Running {action}…",
    "run_unreachable": "Could not reach Switchboard ({reason}), so {action} did not run. Try again: the same click never runs twice.",
    "run_error": "Switchboard did not run {action}: {reason}",
    "confirm": "Confirm",
    "confirm_label": "Confirm {action}: {preview}",
    "confirm_preview": "This will {preview}.",
    "outcome": "{action}: {status}. {message}",
    "why": "Why",
    "decided_by": "Decided by {who}",
    "status_succeeded": "Done",
    "status_refused": "Refused",
    "status_failed": "Failed",
    "status_awaiting_confirmation": "Waiting for your confirmation",
    "status_awaiting_approval": "Waiting for supervisor approval in Slack",
    "status_awaiting_verification": "Waiting for the customer's verification code",
    "status_approved": "Approved",
    "status_rejected": "Rejected by a supervisor",
    "status_expired": "Expired",
    "status_running": "Running",
    "status_requested": "Requested",
    "reason_unknown_action": "Switchboard does not know this action.",
    "reason_invalid_input": "Some details are missing or in the wrong format.",
    "reason_role_not_allowed": "The policy does not let agents run this action.",
    "reason_no_customer": "Switchboard could not tell which customer this ticket is about.",
    "reason_order_not_found": "The order was not found on this customer's account.",
    "reason_outside_window": "The order is outside the refund window for the customer's membership tier.",
    "reason_no_purchase_date": "The order record has no delivery or purchase date to check the refund window against.",
    "reason_over_limit": "It would take the customer over the refund limit for the period.",
    "reason_count_limit": "The customer has had as many refunds as the period allows.",
    "reason_verification_failed": "The customer's verification code did not match.",
    "reason_verification_expired": "The customer's verification code expired.",
    "reason_approval_rejected": "A supervisor rejected it in Slack.",
    "reason_approval_expired": "No supervisor approved it in time.",
    "reason_prompt_injection": "The request came from text that tried to instruct the bot.",
    "reason_failed": "The company's system answered with an error; nothing was changed.",
    "reason_target_not_found": "The company's system did not find what the action was about (check the number).",
    "reason_not_confirmed": "The customer said no, so nothing was changed.",
    "reason_confirmation_expired": "Nobody confirmed it in time, so nothing was changed.",
    "reason_too_many_codes": "The customer was sent too many verification codes in the last hour.",
    "reason_not_your_confirmation": "It was waiting for someone else's confirmation.",
    "reason_unknown_token": "A [TOKEN] in it is not a value of this ticket's conversation (another conversation's, or erased): use a token shown under Redacted details.",
    "reply_heading": "Reply in {language}",
    "reply_hint": "Write your reply in English in the ticket editor, then translate it here. You read the translation before it goes into the editor, and nothing is sent until you send it.",
    "reply_translate": "Translate my reply into {language}",
    "reply_translating": "Translating your reply into {language}…",
    "reply_empty": "The reply editor is empty: write your reply in English first, then translate it.",
    "reply_read_failed": "Could not read your reply from the ticket editor. Try again.",
    "reply_result_heading": "Your reply in {language}",
    "reply_ready": "Your reply in {language} is ready below. Read it, then use it or discard it.",
    "reply_use": "Use this translation",
    "reply_use_label": "Use the {language} translation: it replaces the reply in the editor",
    "reply_discard": "Discard",
    "reply_discarded": "Translation discarded; your reply in the editor is unchanged.",
    "reply_used": "The {language} translation is in the reply editor. Check it, then send it as usual.",
    "reply_use_failed": "Could not put the translation in the reply editor. Try again, or copy it from here.",
    "reply_changed": "Your reply changed after it was translated. Translate it again, so the customer reads what you wrote now.",
    "reply_unavailable": "Switchboard cannot translate replies: {reason}.",
    "reply_failed": "Could not translate your reply ({reason}). Try again, or reply in English.",
    "check_heading": "Check my reply",
    "check_hint": "Checks the reply in the ticket editor for risky promises, missing disclaimers and tone before you send it. Nothing is sent from here.",
    "check_button": "Check my reply",
    "check_busy": "Checking your reply…",
    "check_empty": "The reply editor is empty: write your reply first, then check it.",
    "check_ok": "Nothing flagged: your reply keeps to the guardrails.",
    "check_flagged": "Found {count} to fix before you send this reply.",
    "check_words": "Words: {words}",
    "check_fix": "Fix: {fix}",
    "check_failed": "Could not check your reply ({reason}). Try again.",
    "check_read_failed": "Could not read your reply from the ticket editor. Try again.",
    "guardrail_risky_promise": "Risky promise",
    "guardrail_disclaimer": "Missing disclaimer",
    "guardrail_style": "Tone and style",
    "vault_heading": "Redacted details",
    "vault_empty": "The customer wrote no personal data the bot had to hide.",
    "vault_reveal": "Reveal",
    "vault_reveal_label": "Reveal {token} (recorded in the audit trail)",
    "vault_not_allowed": "Your account settings do not let you reveal this.",
    "vault_failed": "Could not reveal {token} ({reason}).",
    "vault_revealed": "{token} revealed; the reveal is recorded.",
    "dashboard_open": "Open the supervisor dashboard",
    "dashboard_hint": "Opens signed in to this account's figures.",
    "retry": "Retry",
    "unreachable_title": "Switchboard is unreachable",
    "unreachable_body": "The sidebar could not reach Switchboard at {url} ({reason}). Check that it is running, then retry.",
    "not_found_title": "No Switchboard context for this ticket",
    "not_found_body": "This ticket did not come through Switchboard, so there is no conversation, summary or suggestion to show.",
    "unauthorized_title": "Switchboard refused the API key",
    "unauthorized_body": "Check the token setting: an admin can paste a current account API key (switchboard accounts key) in Admin Center > Apps > Switchboard.",
    "not_configured_title": "Switchboard is not set up",
    "not_configured_body": "Set the Switchboard URL (backend_url) in the app's settings in Admin Center > Apps > Switchboard.",
    "outside_zendesk_title": "Open this inside Zendesk",
    "outside_zendesk_body": "This page is the Switchboard ticket sidebar app; it only works when Zendesk loads it in a ticket.",
    "call_heading": "Live call",
    "call_live": "On the call now",
    "call_ended": "Call ended",
    "call_transcript": "Transcript",
    "call_no_lines": "Nobody has been transcribed yet.",
    "call_speaker_customer": "Caller",
    "call_speaker_agent": "You",
    "call_intent": "Caller wants",
    "call_sentiment": "Mood",
    "call_suggestions": "Answers for what the caller asked",
    "call_no_suggestions": "No article answers what the caller asked yet.",
    "call_checklist": "Required script",
    "call_said": "said",
    "call_not_said": "not said yet",
    "call_said_late": "said late",
    "call_next_actions": "Next steps",
    "call_update_failed": "The live call card could not be updated; retrying.",
    "disposition_heading": "Wrap-up code",
    "disposition_chosen": "Filed as {description} ({code})",
    "disposition_confidence": "Chosen by Switchboard with {percent}% confidence. Pick another if it is wrong.",
    "disposition_corrected": "Chosen by an agent.",
    "disposition_pick": "Wrap-up code",
    "disposition_save": "Save code",
    "disposition_saving": "Saving the code…",
    "disposition_same": "That is already the ticket's code: pick another to change it.",
    "disposition_saved": "Saved: the ticket is filed as {code}. Switchboard learns from corrections like this.",
    "disposition_failed": "Could not save the code ({reason}). Try again."
  };
  /* ui-strings:end */

  // Zendesk's proxy replaces this placeholder with the secure "token" setting.
  var AUTHORIZATION = 'Bearer {{setting.token}}';

  function t(key, vars) {
    var text = Object.prototype.hasOwnProperty.call(STRINGS, key) ? STRINGS[key] : key;
    return text.replace(/\{(\w+)\}/g, function (whole, name) {
      return vars && vars[name] !== undefined && vars[name] !== null ? String(vars[name]) : whole;
    });
  }

  function $(id) { return document.getElementById(id); }

  // el('p', {className: 'x'}, [children]) — children are nodes or strings (as text).
  function el(tag, props, children) {
    var node = document.createElement(tag);
    Object.keys(props || {}).forEach(function (name) {
      if (name === 'attrs') {
        Object.keys(props.attrs).forEach(function (attr) { node.setAttribute(attr, props.attrs[attr]); });
      } else {
        node[name] = props[name];
      }
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) { return; }
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    });
    return node;
  }

  function clear(node) {
    while (node.firstChild) { node.removeChild(node.firstChild); }
  }

  function announce(message) {
    $('status').textContent = message;
  }

  // Only http(s) URLs become links: a javascript: URL in a knowledge-base source
  // must not turn into something an agent can click.
  function safeHttpUrl(value) {
    if (typeof value !== 'string') { return null; }
    try {
      var url = new URL(value);
      return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  // ---- talking to Switchboard through Zendesk --------------------------------

  var client = window.ZAFClient ? window.ZAFClient.init() : false;
  var state = { backendUrl: null, ticketId: null, data: null, agent: null };

  // The agent's identity headers (see apps/zendesk/sidebar_api.py). Name and email are
  // percent-encoded: header values cannot carry "Søren" as it is.
  function agentHeaders() {
    var agent = state.agent;
    if (!agent || agent.id === null || agent.id === undefined || !/^\d+$/.test(String(agent.id))) { return {}; }
    var headers = { 'X-Zendesk-User-Id': String(agent.id) };
    if (agent.name) { headers['X-Zendesk-User-Name'] = encodeURIComponent(String(agent.name)); }
    if (agent.email) { headers['X-Zendesk-User-Email'] = encodeURIComponent(String(agent.email)); }
    return headers;
  }

  // The panel works without it (Switchboard then audits "agent"): a host that cannot
  // say who is signed in must not keep the agent from the context.
  function currentUser() {
    return client.get('currentUser').then(function (answer) {
      var user = answer && answer.currentUser;
      return user ? { id: user.id, name: user.name, email: user.email } : null;
    }, function () { return null; });
  }

  // `headers` adds to the Authorization placeholder (the governed actions' Idempotency-Key).
  function backendRequest(method, path, body, headers) {
    var allHeaders = agentHeaders();
    allHeaders.Authorization = AUTHORIZATION;
    Object.keys(headers || {}).forEach(function (name) { allHeaders[name] = headers[name]; });
    var options = {
      url: state.backendUrl + path,
      type: method,
      secure: true,
      headers: allHeaders,
      contentType: 'application/json'
    };
    if (method === 'GET') {
      options.dataType = 'json';
    } else {
      options.data = JSON.stringify(body || {});
    }
    return client.request(options);
  }

  // Zendesk rejects client.request with a jqXHR-like object; the proxy answers 5xx
  // when it cannot reach the backend, and status 0 means the browser never got an
  // answer at all. Both are "unreachable": the agent can only retry.
  function classifyFailure(failure) {
    var status = failure && typeof failure.status === 'number' ? failure.status : 0;
    if (status === 404) { return { kind: 'not_found', status: status }; }
    if (status === 401 || status === 403) { return { kind: 'unauthorized', status: status }; }
    return { kind: 'unreachable', status: status };
  }

  function parseBody(data) {
    if (typeof data === 'string') { return JSON.parse(data); }
    return data;
  }

  // ---- states -----------------------------------------------------------------

  function showProblem(kind, detail) {
    var titles = {
      unreachable: ['unreachable_title', 'unreachable_body'],
      not_found: ['not_found_title', 'not_found_body'],
      unauthorized: ['unauthorized_title', 'unauthorized_body'],
      not_configured: ['not_configured_title', 'not_configured_body'],
      outside_zendesk: ['outside_zendesk_title', 'outside_zendesk_body']
    }[kind];
    var retry = $('retry');
    var hadFocus = document.activeElement === retry;
    $('content').hidden = true;
    $('problem').hidden = false;
    $('problem').className = 'problem problem--' + kind;
    $('problem').setAttribute('data-state', kind);
    $('problem-title').textContent = t(titles[0]);
    $('problem-body').textContent = t(titles[1], detail);
    retry.textContent = t('retry');
    // Retrying helps when the network or Switchboard is down; a 404 or a bad key
    // needs someone to change something first, so no button there.
    retry.hidden = kind !== 'unreachable';
    // The panel's own heading says it; the status line stays for screen readers only.
    $('status').className = 'status visually-hidden';
    announce(t(titles[0]));
    if (hadFocus && !retry.hidden) { retry.focus(); } else if (hadFocus) { $('problem-title').focus(); }
    scheduleResize();
  }

  // The Retry button is not disabled while loading: disabling it would drop keyboard
  // focus to the page; a flag ignores clicks on it instead.
  var loading = false;

  function describeFailure(failure) {
    if (!failure.status) { return 'no answer'; }
    return 'HTTP ' + failure.status;
  }

  function load() {
    if (loading) { return Promise.resolve(null); }
    loading = true;
    announce(t('loading'));
    return Promise.all([client.metadata(), client.get('ticket.id'), currentUser()])
      .then(function (results) {
        var settings = (results[0] && results[0].settings) || {};
        state.backendUrl = typeof settings.backend_url === 'string'
          ? settings.backend_url.replace(/\/+$/, '') : '';
        state.ticketId = results[1] && results[1]['ticket.id'];
        state.agent = results[2];
        if (!safeHttpUrl(state.backendUrl)) {
          showProblem('not_configured');
          return null;
        }
        if (state.ticketId === null || state.ticketId === undefined) {
          showProblem('not_found');
          return null;
        }
        return backendRequest('GET', '/api/sidebar/tickets/' + encodeURIComponent(state.ticketId))
          .then(function (data) {
            var hadFocus = document.activeElement === $('retry');
            state.data = parseBody(data);
            render(state.data);
            showCall(state.data.call);
            showDisposition(state.data.disposition);
            announce(t('loaded'));
            if (hadFocus) { $('customer-heading').focus(); }
            loadGoverned();
            loadVault();
          }, function (failure) {
            var problem = classifyFailure(failure);
            showProblem(problem.kind, { url: state.backendUrl, reason: describeFailure(problem) });
          });
      })
      .catch(function (error) {
        // A broken answer (not JSON, unexpected shape) is as useless to the agent as
        // no answer: say so, keep the retry, and leave the details in the console.
        if (window.console) { window.console.error('[switchboard]', error); }
        showProblem('unreachable', { url: state.backendUrl || '?', reason: String(error && error.message || error) });
      })
      .then(function () { loading = false; });
  }

  // ---- rendering ----------------------------------------------------------------

  function fact(term, value) {
    return [el('dt', {}, [term]), el('dd', {}, [value])];
  }

  function appendAll(parent, nodes) {
    nodes.forEach(function (node) { parent.appendChild(node); });
  }

  function renderCustomer(customer) {
    var root = $('customer');
    clear(root);
    customer = customer || {};
    root.appendChild(el('p', { className: 'customer-name' }, [
      customer.name || t('unknown_customer'), ' ',
      el('span', { className: 'badge', attrs: { 'data-field': 'tier' } }, [t('tier') + ': ' + (customer.tier || t('not_known'))])
    ]));

    var identities = customer.identities || {};
    var list = el('dl', { className: 'facts' });
    [['phone', 'identity_phone'], ['whatsapp', 'identity_whatsapp'], ['email', 'identity_email']].forEach(function (pair) {
      var values = identities[pair[0]] || [];
      if (values.length) { appendAll(list, fact(t(pair[1]), values.join(', '))); }
    });
    var channels = customer.channels || [];
    if (channels.length) { appendAll(list, fact(t('channels'), channels.join(', '))); }
    if (customer.language) {
      appendAll(list, fact(t('language'), customer.language.name + ' (' + customer.language.code + ')'));
    }
    root.appendChild(list.childNodes.length ? list : el('p', { className: 'muted' }, [t('no_identities')]));
  }

  function renderHandoff(handoff) {
    var root = $('handoff');
    clear(root);
    if (!handoff) {
      root.appendChild(el('p', { className: 'muted' }, [t('no_handoff')]));
      return;
    }
    var list = el('dl', { className: 'facts' });
    appendAll(list, fact(t('trigger'), handoff.trigger || t('not_known')));
    if (handoff.detail) { appendAll(list, fact(t('detail'), handoff.detail)); }
    root.appendChild(list);
    if (handoff.summary) {
      root.appendChild(el('p', { className: 'summary', attrs: { 'data-field': 'summary' } }, [handoff.summary]));
    }
  }

  function renderInsight(enrichment) {
    var root = $('insight');
    clear(root);
    enrichment = enrichment || {};
    var intent = enrichment.intent || t('not_known');
    if (enrichment.intent && typeof enrichment.intent_confidence === 'number') {
      intent += ' (' + t('confidence', { percent: Math.round(enrichment.intent_confidence * 100) }) + ')';
    }
    var sentiment = enrichment.sentiment_label || t('not_known');
    if (typeof enrichment.sentiment === 'number') {
      sentiment += ' (' + enrichment.sentiment.toFixed(2) + ')';
    }
    appendAll(root, fact(t('intent'), intent));
    appendAll(root, fact(t('sentiment'), sentiment));
    appendAll(root, fact(t('trend'), enrichment.trend || t('not_known')));
  }

  function formatTime(iso) {
    var date = new Date(iso);
    if (isNaN(date.getTime())) { return String(iso || ''); }
    return date.toLocaleString([], { dateStyle: 'short', timeStyle: 'short' });
  }

  function renderTimeline(timeline) {
    var list = $('timeline');
    var toggle = $('timeline-toggle');
    clear(list);
    timeline = timeline || [];
    if (!timeline.length) {
      list.appendChild(el('li', { className: 'muted' }, [t('timeline_empty')]));
    }
    timeline.forEach(function (entry) {
      var author = entry.author === 'customer' || entry.author === 'bot' || entry.author === 'agent'
        ? t('author_' + entry.author) : String(entry.author || '');
      list.appendChild(el('li', { className: 'timeline-entry timeline-entry--' + (entry.author || 'unknown') }, [
        el('p', { className: 'timeline-meta' }, [
          el('time', { attrs: { datetime: String(entry.at || '') } }, [formatTime(entry.at)]),
          ' · ' + String(entry.channel || '') + ' · ' + author
        ]),
        el('p', { className: 'timeline-body' }, [String(entry.body || '')])
      ].concat(entry.translation ? [
        el('p', { className: 'timeline-translation muted' }, [t('translated') + ': ' + String(entry.translation)])
      ] : [])));
    });
    var expanded = toggle.getAttribute('aria-expanded') === 'true';
    list.hidden = !expanded;
    toggle.textContent = t(expanded ? 'timeline_hide' : 'timeline_show', { count: timeline.length });
    toggle.setAttribute('data-count', String(timeline.length));
  }

  function toggleTimeline() {
    var toggle = $('timeline-toggle');
    var expanded = toggle.getAttribute('aria-expanded') !== 'true';
    toggle.setAttribute('aria-expanded', String(expanded));
    $('timeline').hidden = !expanded;
    toggle.textContent = t(expanded ? 'timeline_hide' : 'timeline_show', { count: toggle.getAttribute('data-count') });
    scheduleResize();
  }

  function renderSources(sources) {
    var valid = (sources || []).filter(function (source) { return source && (source.title || source.url); });
    if (!valid.length) { return null; }
    var list = el('ul', { className: 'sources' });
    valid.forEach(function (source) {
      var href = safeHttpUrl(source.url);
      var title = source.title || source.url;
      list.appendChild(el('li', {}, [href
        ? el('a', { href: href, target: '_blank', rel: 'noopener noreferrer' }, [
          title, el('span', { className: 'visually-hidden' }, [' ' + t('opens_new_tab')])
        ])
        : title]));
    });
    return el('div', {}, [el('p', { className: 'label' }, [t('sources')]), list]);
  }

  // 👍/👎 drawn as inline SVG rather than emoji: a machine without an emoji font
  // would show empty boxes. The buttons' names come from aria-label.
  var SVG_NS = 'http://www.w3.org/2000/svg';
  function thumbIcon(down) {
    var svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('width', '18');
    svg.setAttribute('height', '18');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    svg.setAttribute('class', 'icon');
    var group = document.createElementNS(SVG_NS, 'g');
    if (down) { group.setAttribute('transform', 'rotate(180 12 12)'); }
    var cuff = document.createElementNS(SVG_NS, 'rect');
    [['x', '2'], ['y', '10'], ['width', '4'], ['height', '11'], ['rx', '1']].forEach(function (a) {
      cuff.setAttribute(a[0], a[1]);
    });
    var hand = document.createElementNS(SVG_NS, 'path');
    hand.setAttribute('d', 'M8 10 L12 3 C13.5 3 14.5 4 14.5 5.5 L14 9 H19.5 C20.9 9 21.9 10.3 21.6 11.6 ' +
      'L20.2 19.4 C20 20.4 19.1 21 18.1 21 H8 Z');
    group.appendChild(cuff);
    group.appendChild(hand);
    svg.appendChild(group);
    return svg;
  }

  function renderSuggestion(suggestion, index) {
    var number = index + 1;
    var formId = 'reason-form-' + suggestion.id;
    var reasonId = 'reason-' + suggestion.id;

    var insert = el('button', { type: 'button', className: 'button button--primary', textContent: t('insert'),
      attrs: { 'aria-label': t('insert_label', { number: number }), 'data-action': 'insert' } });
    var up = el('button', { type: 'button', className: 'button button--icon',
      attrs: { 'aria-label': t('helpful_label', { number: number }), 'aria-pressed': 'false', 'data-action': 'up' } },
      [thumbIcon(false)]);
    var down = el('button', { type: 'button', className: 'button button--icon',
      attrs: { 'aria-label': t('not_helpful_label', { number: number }), 'aria-pressed': 'false',
        'aria-expanded': 'false', 'aria-controls': formId, 'data-action': 'down' } }, [thumbIcon(true)]);

    var reason = el('textarea', { id: reasonId, rows: 2, maxLength: 500, attrs: { name: 'reason' } });
    var send = el('button', { type: 'submit', className: 'button button--primary', textContent: t('send_feedback') });
    var cancel = el('button', { type: 'button', className: 'button', textContent: t('cancel') });
    var form = el('form', { id: formId, className: 'reason-form', hidden: true }, [
      el('label', { htmlFor: reasonId }, [t('reason_label')]), reason,
      el('div', { className: 'button-row' }, [send, cancel])
    ]);

    function closeForm() {
      form.hidden = true;
      down.setAttribute('aria-expanded', 'false');
      scheduleResize();
    }

    // Busy flags instead of disabling the buttons: a disabled button loses keyboard
    // focus, and the agent would have to tab back from the top of the panel.
    var inserting = false;
    var sending = false;

    insert.addEventListener('click', function () {
      if (inserting) { return; }
      inserting = true;
      client.invoke('ticket.editor.insert', suggestion.text)
        .then(function () {
          return backendRequest('POST', '/api/sidebar/suggestions/' + suggestion.id + '/inserted', {})
            .then(function () { announce(t('inserted', { number: number })); },
              function () { announce(t('insert_unrecorded', { number: number })); });
        }, function () { announce(t('insert_failed', { number: number })); })
        .then(function () { inserting = false; });
    });

    function sendFeedback(rating, reasonText) {
      return backendRequest('POST', '/api/sidebar/suggestions/' + suggestion.id + '/feedback',
        { rating: rating, reason: reasonText })
        .then(function () {
          up.setAttribute('aria-pressed', String(rating === 'up'));
          down.setAttribute('aria-pressed', String(rating === 'down'));
          announce(t(rating === 'up' ? 'thanks_up' : 'thanks_down', { number: number }));
          return true;
        }, function () {
          announce(t('feedback_failed', { number: number }));
          return false;
        });
    }

    up.addEventListener('click', function () {
      closeForm();
      sendFeedback('up', null);
    });

    down.addEventListener('click', function () {
      var opening = form.hidden;
      form.hidden = !opening;
      down.setAttribute('aria-expanded', String(opening));
      if (opening) { reason.focus(); }
      scheduleResize();
    });

    form.addEventListener('submit', function (event) {
      event.preventDefault();
      if (sending) { return; }
      sending = true;
      var text = reason.value.trim();
      sendFeedback('down', text ? text : null).then(function (sent) {
        sending = false;
        if (sent) {
          reason.value = '';
          closeForm();
          down.focus();
        }
      });
    });

    cancel.addEventListener('click', function () { closeForm(); down.focus(); });
    form.addEventListener('keydown', function (event) {
      if (event.key === 'Escape') { closeForm(); down.focus(); }
    });

    var meta = suggestion.engine
      ? el('p', { className: 'muted small' }, [t('engine', { engine: suggestion.engine })]) : null;

    return el('li', { className: 'suggestion', attrs: { 'data-suggestion-id': String(suggestion.id),
      'aria-label': t('suggestion_label', { number: number }) } }, [
      el('p', { className: 'suggestion-text' }, [String(suggestion.text || '')]),
      renderSources(suggestion.sources),
      meta,
      el('div', { className: 'button-row' }, [insert, up, down]),
      form
    ]);
  }

  function renderSuggestions(suggestions) {
    var root = $('suggestions');
    clear(root);
    suggestions = suggestions || [];
    if (!suggestions.length) {
      root.appendChild(el('li', { className: 'muted' }, [t('suggestions_empty')]));
      return;
    }
    suggestions.forEach(function (suggestion, index) {
      root.appendChild(renderSuggestion(suggestion, index));
    });
  }

  function renderActions(actions) {
    var root = $('actions');
    clear(root);
    actions = actions || [];
    if (!actions.length) {
      root.appendChild(el('li', { className: 'muted' }, [t('actions_empty')]));
      return;
    }
    actions.forEach(function (action) {
      root.appendChild(el('li', { attrs: { 'data-action-id': String(action.id) } }, [
        el('p', { className: 'action-label' }, [String(action.label || action.id)]),
        action.description ? el('p', { className: 'muted small' }, [String(action.description)]) : null
      ]));
    });
  }

  // ---- governed actions -----------------------------------------------------------
  //
  // Why it works this way:
  // - Each Run button carries an Idempotency-Key made when the button is rendered;
  //   Switchboard runs an action once per key, so a double click, or a retry after the
  //   proxy lost the answer, cannot refund twice. A key is replaced only once
  //   Switchboard has answered with an execution: the next click is a new request.
  // - Forms are generated from each action's JSON schema, kept deliberately simple
  //   (text, numbers, dates, choices, comma-separated lists): Switchboard validates
  //   the input again and refuses anything it does not accept.
  // - Outcomes are Switchboard's own words (its message) plus the reasons of a
  //   refusal in the agent's terms; the policy is decided there, never here.

  var MULTILINE_FIELDS = ['note', 'body', 'comment', 'message', 'description'];
  var governedSeq = 0;

  function governedPath(suffix) {
    return '/api/sidebar/tickets/' + encodeURIComponent(state.ticketId) + '/governed-actions' + (suffix || '');
  }

  function newIdempotencyKey() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    var hex = Array.prototype.map.call(bytes, function (b) { return ('0' + b.toString(16)).slice(-2); });
    return 'sidebar-' + hex.join('');
  }

  // "order_status" -> "Order status": action and field names are identifiers, and the
  // backend sends no labels for them.
  function humanize(name) {
    var text = String(name || '').replace(/_/g, ' ');
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  function statusLabel(status) {
    var key = 'status_' + status;
    return Object.prototype.hasOwnProperty.call(STRINGS, key) ? t(key) : humanize(status);
  }

  function reasonText(code) {
    var key = 'reason_' + code;
    return Object.prototype.hasOwnProperty.call(STRINGS, key) ? t(key) : humanize(code);
  }

  // An answer is a decided execution when it names its id and status and does not
  // ask to be retried. Anything else means nothing was decided: a gateway error, a
  // 400 about the request, or Switchboard's 503 "retry: true" (the company's system
  // was down and the request is kept under the same key).
  function asExecution(data) {
    return data && typeof data === 'object' && typeof data.id === 'number' && typeof data.status === 'string'
      && data.retry !== true ? data : null;
  }

  function failureBody(failure) {
    if (failure && failure.responseJSON) { return failure.responseJSON; }
    try { return JSON.parse(failure && failure.responseText); } catch (e) { return null; }
  }

  // ---- the form generated from a JSON schema ----

  function fieldInput(id, name, prop, value) {
    var input;
    if (Array.isArray(prop.enum)) {
      input = el('select', { id: id, name: name });
      input.appendChild(el('option', { value: '' }, ['']));
      prop.enum.forEach(function (choice) {
        input.appendChild(el('option', { value: String(choice) }, [String(choice)]));
      });
    } else if (prop.type === 'boolean') {
      input = el('input', { id: id, name: name, type: 'checkbox', checked: value === true });
      return input;
    } else if (prop.type === 'string' && MULTILINE_FIELDS.indexOf(name) >= 0) {
      input = el('textarea', { id: id, name: name, rows: 3 });
    } else {
      var type = prop.type === 'integer' || prop.type === 'number' ? 'number'
        : prop.format === 'date' ? 'date' : 'text';
      input = el('input', { id: id, name: name, type: type, autocomplete: 'off' });
      if (type === 'number') { input.step = prop.type === 'integer' ? '1' : 'any'; }
    }
    if (value !== undefined && value !== null) {
      input.value = Array.isArray(value) ? value.join(', ') : String(value);
    }
    return input;
  }

  function buildFields(form, schema, params, prefix) {
    var properties = (schema && schema.properties) || {};
    var required = (schema && schema.required) || [];
    var fields = [];
    Object.keys(properties).forEach(function (name) {
      var prop = properties[name] || {};
      var id = prefix + '-' + name;
      var isRequired = required.indexOf(name) >= 0;
      var input = fieldInput(id, name, prop, params[name]);
      if (isRequired && prop.type !== 'boolean') { input.required = true; }
      var hints = [];
      if (prop.description) { hints.push(String(prop.description)); }
      if (prop.type === 'array') { hints.push(t('list_hint')); }
      var hint = null;
      if (hints.length) {
        hint = el('span', { id: id + '-hint', className: 'hint' }, [hints.join(' ')]);
        input.setAttribute('aria-describedby', hint.id);
      }
      var label = el('label', { htmlFor: id }, [humanize(name), isRequired ? null : ' ' + t('optional')]);
      form.appendChild(el('div', { className: 'field' + (prop.type === 'boolean' ? ' field--check' : '') },
        prop.type === 'boolean' ? [input, label, hint] : [label, input, hint]));
      fields.push({ name: name, prop: prop, input: input, required: isRequired });
    });
    return fields;
  }

  // The values as the schema's types; null when a number field holds no number (the
  // browser has then been told to say so at the field).
  function collectParams(fields) {
    var params = {};
    for (var i = 0; i < fields.length; i += 1) {
      var field = fields[i];
      var input = field.input;
      if (field.prop.type === 'boolean') { params[field.name] = input.checked; continue; }
      var raw = input.value.trim();
      if (!raw && !field.required) { continue; }
      if (field.prop.type === 'integer' || field.prop.type === 'number') {
        var number = Number(raw);
        if (raw === '' || isNaN(number)) {
          input.setCustomValidity(t('not_a_number'));
          input.reportValidity();
          input.setCustomValidity('');
          return null;
        }
        params[field.name] = number;
      } else if (field.prop.type === 'array') {
        params[field.name] = raw.split(',').map(function (part) { return part.trim(); })
          .filter(function (part) { return part; });
      } else {
        params[field.name] = raw;
      }
    }
    return params;
  }

  // ---- outcomes ----

  function reasonsList(execution) {
    var reasons = (execution.reasons || []).filter(function (code) { return code; });
    if (!reasons.length || execution.status === 'succeeded') { return null; }
    return el('div', { className: 'reasons' }, [
      el('p', { className: 'label' }, [t('why')]),
      el('ul', {}, reasons.map(function (code) {
        return el('li', { attrs: { 'data-reason': String(code) } }, [reasonText(code)]);
      }))
    ]);
  }

  function confirmButton(execution, onDone) {
    var action = humanize(execution.action);
    var button = el('button', { type: 'button', className: 'button button--primary', textContent: t('confirm'),
      attrs: { 'data-action': 'confirm', 'data-execution-id': String(execution.id),
        'aria-label': t('confirm_label', { action: action, preview: execution.preview || action }) } });
    var busy = false;
    button.addEventListener('click', function () {
      if (busy) { return; }
      busy = true;
      button.setAttribute('aria-busy', 'true');
      announce(t('running', { action: action }));
      backendRequest('POST', '/api/sidebar/governed-actions/' + encodeURIComponent(execution.id) + '/confirm', {})
        .then(function (data) { return asExecution(parseBody(data)); },
          function (failure) { return asExecution(failureBody(failure)) || failure; })
        .catch(function (error) { return error; })  // an unreadable answer: nothing was decided
        .then(function (answer) {
          busy = false;
          button.removeAttribute('aria-busy');
          onDone(answer);
        });
    });
    return button;
  }

  function describeRunFailure(failure, action) {
    var status = failure && typeof failure.status === 'number' ? failure.status : 0;
    var body = failureBody(failure);
    if (body && body.retry === true && typeof body.message === 'string') { return body.message; }
    if (!status || status >= 500) {
      return t('run_unreachable', { action: action, reason: status ? 'HTTP ' + status : 'no answer' });
    }
    var reason = body && typeof body.error === 'string' ? body.error : 'HTTP ' + status;
    return t('run_error', { action: action, reason: reason });
  }

  // Fills `box` with what happened to an execution, in plain words. Returns what the
  // live region should say.
  function renderOutcome(box, execution, onConfirmed) {
    clear(box);
    var action = humanize(execution.action);
    var label = statusLabel(execution.status);
    box.hidden = false;
    box.className = 'outcome outcome--' + execution.status;
    box.setAttribute('data-status', execution.status);
    box.setAttribute('data-execution-id', String(execution.id));
    box.appendChild(el('p', { className: 'outcome-status' }, [el('strong', {}, [label])]));
    if (execution.message) { box.appendChild(el('p', { className: 'outcome-message' }, [String(execution.message)])); }
    var reasons = reasonsList(execution);
    if (reasons) { box.appendChild(reasons); }
    if (execution.status === 'awaiting_confirmation') {
      // Switchboard's message usually names the preview already ("Confirm to refund
      // $42.50 ..."); say it only when it does not.
      if (execution.preview && String(execution.message || '').indexOf(execution.preview) < 0) {
        box.appendChild(el('p', { className: 'outcome-preview' },
          [t('confirm_preview', { preview: execution.preview })]));
      }
      box.appendChild(el('div', { className: 'button-row' }, [confirmButton(execution, onConfirmed)]));
    }
    return t('outcome', { action: action, status: label, message: execution.message || '' }).trim();
  }

  // What a Confirm click leads to: the new outcome where the old one was, focus on it
  // (the button the agent pressed is gone), and the timeline brought up to date.
  function confirmedInto(box) {
    return function handle(answer) {
      var execution = asExecution(answer);
      if (!execution) {
        var note = box.querySelector('.outcome-error') || box.appendChild(el('p', { className: 'outcome-error' }));
        note.textContent = describeRunFailure(answer, humanize(box.getAttribute('data-action-name') || ''));
        announce(note.textContent);
        return;
      }
      announce(renderOutcome(box, execution, handle));
      box.focus();
      refreshExecutions();
      scheduleResize();
    };
  }

  // ---- one action: its form, its Run button, its outcome ----

  function actionForm(spec, params) {
    governedSeq += 1;
    var prefix = 'ga-' + governedSeq;
    var action = humanize(spec.name);
    var form = el('form', { className: 'governed-form', attrs: { 'data-governed-action': spec.name } });
    var fields = buildFields(form, spec.parameters, params || {}, prefix);
    var run = el('button', { type: 'submit', className: 'button button--primary', textContent: t('run'),
      attrs: { 'data-action': 'run', 'aria-label': t('run_label', { action: action }) } });
    var key = newIdempotencyKey();
    run.setAttribute('data-idempotency-key', key);
    form.appendChild(el('div', { className: 'button-row' }, [run]));
    var outcome = el('div', { className: 'outcome', hidden: true, tabIndex: -1,
      attrs: { 'data-action-name': spec.name } });
    form.appendChild(outcome);
    var onConfirmed = confirmedInto(outcome);

    // Not disabled while running (a disabled button drops keyboard focus): the flag
    // makes a second click, or a second Enter, do nothing.
    var busy = false;
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      if (busy) { return; }
      var values = collectParams(fields);
      if (values === null) { return; }
      busy = true;
      run.setAttribute('aria-busy', 'true');
      announce(t('running', { action: action }));
      backendRequest('POST', governedPath('/' + encodeURIComponent(spec.name)), { params: values, confirm: false },
        { 'Idempotency-Key': key })
        .then(function (data) { return asExecution(parseBody(data)); },
          function (failure) { return asExecution(failureBody(failure)) || failure; })
        .catch(function (error) { return error; })  // an unreadable answer: nothing was decided
        .then(function (answer) {
          busy = false;
          run.removeAttribute('aria-busy');
          var execution = asExecution(answer);
          if (!execution) {
            // Nothing was decided: keep the key, so trying again cannot run it twice.
            clear(outcome);
            outcome.hidden = false;
            outcome.className = 'outcome outcome--error';
            outcome.removeAttribute('data-status');
            outcome.appendChild(el('p', { className: 'outcome-error' }, [describeRunFailure(answer, action)]));
            announce(outcome.textContent);
          } else {
            announce(renderOutcome(outcome, execution, onConfirmed));
            key = newIdempotencyKey();  // answered: the next click is a new request
            run.setAttribute('data-idempotency-key', key);
            refreshExecutions();
          }
          scheduleResize();
        });
    });
    return form;
  }

  function riskBadge(spec) {
    var parts = [];
    if (spec.risk) {
      var known = Object.prototype.hasOwnProperty.call(STRINGS, 'risk_' + spec.risk);
      parts.push(known ? t('risk_' + spec.risk) : String(spec.risk));
    }
    if (spec.needs_confirmation) { parts.push(t('asks_confirmation')); }
    return parts.length
      ? el('span', { className: 'badge badge--' + (spec.risk || 'unknown'), attrs: { 'data-field': 'risk' } },
        [parts.join(', ')])
      : null;
  }

  function renderSuggested(spec, params) {
    return el('div', { className: 'governed-suggested', attrs: { 'data-governed': spec.name } }, [
      el('h3', {}, [t('governed_suggested')]),
      el('p', { className: 'action-label' }, [humanize(spec.name), ' ', riskBadge(spec)]),
      spec.description ? el('p', { className: 'muted small' }, [String(spec.description)]) : null,
      actionForm(spec, params)
    ]);
  }

  // Collapsed by default: the sidebar is narrow, and most tickets need one action.
  function renderAvailable(spec) {
    governedSeq += 1;
    var panelId = 'ga-panel-' + governedSeq;
    var toggle = el('button', { type: 'button', className: 'disclosure',
      attrs: { 'aria-expanded': 'false', 'aria-controls': panelId, 'data-action': 'expand' } },
      [humanize(spec.name)]);
    var panel = el('div', { id: panelId, className: 'governed-panel', hidden: true }, [
      el('p', {}, [riskBadge(spec)]),
      spec.description ? el('p', { className: 'muted small' }, [String(spec.description)]) : null,
      actionForm(spec, {})
    ]);
    toggle.addEventListener('click', function () {
      var open = panel.hidden;
      panel.hidden = !open;
      toggle.setAttribute('aria-expanded', String(open));
      if (open) {
        var first = panel.querySelector('input, textarea, select');
        if (first) { first.focus(); }
      }
      scheduleResize();
    });
    return el('li', { attrs: { 'data-governed': spec.name } }, [toggle, panel]);
  }

  // ---- the timeline of this ticket's executions ----

  function renderExecutions(executions) {
    var list = $('governed-timeline');
    if (!list) { return; }
    // A refresh must not drop the keyboard focus of an agent working in the list.
    var focused = list.contains(document.activeElement) && document.activeElement.closest('[data-execution-id]');
    var focusedId = focused ? focused.getAttribute('data-execution-id') : null;
    clear(list);
    executions = executions || [];
    if (!executions.length) {
      list.appendChild(el('li', { className: 'muted' }, [t('governed_activity_empty')]));
    }
    executions.forEach(function (execution) {
      var entry = el('li', { className: 'execution execution--' + execution.status, tabIndex: -1,
        attrs: { 'data-execution-id': String(execution.id), 'data-status': String(execution.status) } });
      entry.appendChild(el('p', { className: 'timeline-meta' }, [
        el('time', { attrs: { datetime: String(execution.created_at || '') } }, [formatTime(execution.created_at)]),
        ' · ' + humanize(execution.action) + ' · ',
        el('span', { className: 'execution-status' }, [statusLabel(execution.status)])
      ]));
      if (execution.message) {
        entry.appendChild(el('p', { className: 'timeline-body' }, [String(execution.message)]));
      }
      var reasons = reasonsList(execution);
      if (reasons) { entry.appendChild(reasons); }
      if (execution.decided_by) {
        entry.appendChild(el('p', { className: 'muted small' }, [t('decided_by', { who: execution.decided_by })]));
      }
      if (execution.status === 'awaiting_confirmation') {
        var box = el('div', { className: 'outcome', hidden: true, tabIndex: -1,
          attrs: { 'data-action-name': execution.action } });
        var row = el('div', { className: 'button-row' });
        row.appendChild(confirmButton(execution, function (answer) {
          if (asExecution(answer) && row.parentNode) { row.parentNode.removeChild(row); }
          confirmedInto(box)(answer);
        }));
        entry.appendChild(row);
        entry.appendChild(box);
      }
      list.appendChild(entry);
      if (focusedId === String(execution.id)) { entry.focus(); }
    });
  }

  function renderGoverned(data) {
    var root = $('governed');
    clear(root);
    var available = (data && data.available) || [];
    var byName = {};
    available.forEach(function (spec) { byName[spec.name] = spec; });
    var suggested = ((data && data.suggested) || []).filter(function (s) { return s && byName[s.name]; });
    var suggestedNames = suggested.map(function (s) { return s.name; });
    if (!available.length) {
      root.appendChild(el('p', { className: 'muted' }, [t('governed_empty')]));
    }
    suggested.forEach(function (s) { root.appendChild(renderSuggested(byName[s.name], s.params || {})); });
    var others = available.filter(function (spec) { return suggestedNames.indexOf(spec.name) < 0; });
    if (others.length) {
      root.appendChild(el('h3', {}, [t('governed_more')]));
      var list = el('ul', { className: 'governed-list' });
      others.forEach(function (spec) { list.appendChild(renderAvailable(spec)); });
      root.appendChild(list);
    }
    root.appendChild(el('h3', { id: 'governed-activity-heading' }, [t('governed_activity')]));
    root.appendChild(el('ol', { id: 'governed-timeline', className: 'timeline governed-timeline',
      attrs: { 'aria-labelledby': 'governed-activity-heading' } }));
    renderExecutions(data && data.executions);
  }

  function showGovernedProblem(failure) {
    var root = $('governed');
    clear(root);
    var status = failure && typeof failure.status === 'number' ? failure.status : 0;
    var reload = el('button', { type: 'button', className: 'button', textContent: t('governed_reload') });
    reload.addEventListener('click', function () {
      loadGoverned().then(function () { $('governed-heading').focus(); });
    });
    root.appendChild(el('p', { className: 'problem-inline', attrs: { 'data-state': 'failed' } },
      [t('governed_failed', { reason: status ? 'HTTP ' + status : String(failure && failure.message || 'no answer') })]
    ));
    root.appendChild(el('div', { className: 'button-row' }, [reload]));
  }

  // The actions are a second request, so a backend without them (or a slow policy
  // lookup) never keeps the agent from the context above.
  function loadGoverned() {
    var root = $('governed');
    clear(root);
    root.appendChild(el('p', { className: 'muted' }, [t('governed_loading')]));
    return backendRequest('GET', governedPath())
      .then(function (data) { renderGoverned(parseBody(data)); }, showGovernedProblem)
      .catch(function (error) {
        if (window.console) { window.console.error('[switchboard]', error); }
        showGovernedProblem(error);
      })
      .then(scheduleResize);
  }

  function refreshExecutions() {
    return backendRequest('GET', governedPath())
      .then(function (data) { renderExecutions((parseBody(data) || {}).executions); scheduleResize(); },
        function () { /* the outcome is already shown; the timeline catches up on the next load */ });
  }

  // ---- the agent's reply in the customer's language ----

  // Agents write in English (core/texts/translation.py's AGENT_LANGUAGE). For a customer who
  // writes in another language the card reads the agent's draft from the editor, asks
  // Switchboard (which audits the draft and the translation) for it in that language,
  // and shows it; only "Use this translation" puts it in the editor, and nothing here
  // ever sends: the agent sends it as any reply.
  var AGENT_LANGUAGE = 'en';
  var EDITOR_PATH = 'ticket.comment.text';

  // Zendesk's rich-text editor answers HTML; the model gets the words. DOMParser builds
  // an inert document: nothing in the draft runs.
  function draftText(value) {
    var text = typeof value === 'string' ? value : '';
    if (!/<[a-z][^>]*>/i.test(text)) { return { text: text.trim(), html: false }; }
    var doc = new window.DOMParser().parseFromString(text, 'text/html');
    Array.prototype.forEach.call(doc.querySelectorAll('br'), function (br) { br.replaceWith('\n'); });
    Array.prototype.forEach.call(doc.querySelectorAll('p, div, li'), function (block) { block.append('\n'); });
    return { text: (doc.body.textContent || '').replace(/\n{3,}/g, '\n\n').trim(), html: true };
  }

  // Back into the editor in the form it gave the draft in (paragraphs for rich text).
  function editorValue(text, html) {
    if (!html) { return text; }
    return text.split(/\n{2,}/).map(function (paragraph) {
      var holder = document.createElement('p');
      holder.textContent = paragraph;
      return holder.outerHTML.replace(/\n/g, '<br>');
    }).join('');
  }

  function replyPath() {
    return '/api/sidebar/tickets/' + encodeURIComponent(state.ticketId) + '/reply-translation';
  }

  function replyFailure(failure) {
    var status = failure && typeof failure.status === 'number' ? failure.status : 0;
    var body = failureBody(failure);
    var said = body && typeof body.error === 'string' ? body.error.replace(/\.$/, '') : '';
    if (status === 409 && said) { return t('reply_unavailable', { reason: said }); }
    return t('reply_failed', { reason: said || (status ? 'HTTP ' + status : 'no answer') });
  }

  function renderReply(customer) {
    var card = $('reply-card');
    var root = $('reply');
    clear(root);
    var language = customer && customer.language;
    if (!language || !language.code || language.code === AGENT_LANGUAGE) {
      card.hidden = true;
      return;
    }
    var name = String(language.name || language.code);
    $('reply-heading').textContent = t('reply_heading', { language: name });
    var translate = el('button', { type: 'button', className: 'button button--primary',
      attrs: { 'data-action': 'translate-reply' } }, [t('reply_translate', { language: name })]);
    // The answer lands here and is read out (polite): the result, or what went wrong.
    var result = el('div', { id: 'reply-result', className: 'reply-result',
      attrs: { 'aria-live': 'polite', 'aria-atomic': 'false' } });
    appendAll(root, [el('p', { className: 'muted small', id: 'reply-hint' }, [t('reply_hint')]),
      el('div', { className: 'button-row' }, [translate]), result]);
    translate.setAttribute('aria-describedby', 'reply-hint');
    card.hidden = false;

    var busy = false;  // a flag, not disabled: keyboard focus stays on the button

    function say(message, kind) {
      clear(result);
      result.appendChild(el('p', { className: kind === 'error' ? 'problem-inline' : 'muted',
        attrs: { 'data-state': kind } }, [message]));
      scheduleResize();
    }

    function show(original, translation, html) {
      clear(result);
      var text = el('p', { id: 'reply-translation', className: 'reply-translation', tabIndex: -1,
        attrs: { lang: String(language.code), 'data-state': 'ready' } }, [translation]);
      var use = el('button', { type: 'button', className: 'button button--primary',
        attrs: { 'data-action': 'use-translation', 'aria-label': t('reply_use_label', { language: name }) } },
        [t('reply_use')]);
      var discard = el('button', { type: 'button', className: 'button',
        attrs: { 'data-action': 'discard-translation' } }, [t('reply_discard')]);
      appendAll(result, [el('h3', { id: 'reply-result-heading' }, [t('reply_result_heading', { language: name })]),
        text, el('div', { className: 'button-row' }, [use, discard])]);
      text.setAttribute('aria-labelledby', 'reply-result-heading');
      announce(t('reply_ready', { language: name }));
      var using = false;
      use.addEventListener('click', function () {
        if (using) { return; }
        using = true;
        // The draft may have changed since: never replace words the agent wrote after.
        client.get(EDITOR_PATH)
          .then(function (answer) {
            if (draftText(answer && answer[EDITOR_PATH]).text !== original) {
              say(t('reply_changed'), 'changed');
              announce(t('reply_changed'));
              translate.focus();
              return null;
            }
            return client.set(EDITOR_PATH, editorValue(translation, html)).then(function () {
              say(t('reply_used', { language: name }), 'used');
              announce(t('reply_used', { language: name }));
              translate.focus();
            });
          })
          .catch(function () { announce(t('reply_use_failed')); })
          .then(function () { using = false; });
      });
      discard.addEventListener('click', function () {
        clear(result);
        announce(t('reply_discarded'));
        translate.focus();
        scheduleResize();
      });
      scheduleResize();
    }

    translate.addEventListener('click', function () {
      if (busy) { return; }
      busy = true;
      translate.setAttribute('aria-busy', 'true');
      client.get(EDITOR_PATH)
        .then(function (answer) {
          var draft = draftText(answer && answer[EDITOR_PATH]);
          if (!draft.text) {
            say(t('reply_empty'), 'empty');
            return null;
          }
          say(t('reply_translating', { language: name }), 'busy');
          return backendRequest('POST', replyPath(), { text: draft.text })
            .then(function (data) {
              var answer = parseBody(data) || {};
              if (typeof answer.translation !== 'string' || !answer.translation.trim()) {
                throw new Error('no translation in the answer');
              }
              show(draft.text, answer.translation, draft.html);
            }, function (failure) {
              var message = replyFailure(failure);
              say(message, 'error');
              announce(message);
            });
        }, function () { say(t('reply_read_failed'), 'error'); })
        .catch(function (error) {
          if (window.console) { window.console.error('[switchboard]', error); }
          say(t('reply_failed', { reason: String(error && error.message || error) }), 'error');
        })
        .then(function () {
          busy = false;
          translate.removeAttribute('aria-busy');
        });
    });
  }

  // ---- the guardrails: the agent's draft checked before it is sent ----

  // Switchboard checks the draft in the editor against the account's guardrails (risky
  // promises, disclaimers the ticket's intent needs, the style card) and says why with
  // the words that triggered each finding and a fix. It only advises: the agent sends.
  var CHECK_DELAY_MS = 1500;

  function checkPath() {
    return '/api/sidebar/tickets/' + encodeURIComponent(state.ticketId) + '/draft-check';
  }

  function renderCheck() {
    var root = $('check');
    clear(root);
    $('check-heading').textContent = t('check_heading');
    var button = el('button', { type: 'button', className: 'button button--primary',
      attrs: { 'data-action': 'check-reply' } }, [t('check_button')]);
    var result = el('div', { id: 'check-result', className: 'check-result',
      attrs: { 'aria-live': 'polite', 'aria-atomic': 'false' } });
    appendAll(root, [el('p', { className: 'muted small', id: 'check-hint' }, [t('check_hint')]),
      el('div', { className: 'button-row' }, [button]), result]);
    button.setAttribute('aria-describedby', 'check-hint');
    var busy = false;

    function say(message, kind) {
      clear(result);
      result.appendChild(el('p', { className: kind === 'error' ? 'problem-inline' : 'muted',
        attrs: { 'data-state': kind } }, [message]));
      scheduleResize();
    }

    function finding(item) {
      var words = (item.words || []).map(function (word) { return '"' + String(word) + '"'; }).join(', ');
      var kind = String(item.guardrail || '');
      return el('li', { className: 'finding finding--' + (item.severity === 'block' ? 'block' : 'warn'),
        attrs: { 'data-guardrail': kind, 'data-rule': String(item.rule || '') } }, [
        el('strong', {}, [t('guardrail_' + kind) + ' (' + String(item.rule || '') + ')']),
        el('p', { className: 'finding-words' }, [t('check_words', { words: words })]),
        el('p', { className: 'finding-fix' }, [t('check_fix', { fix: String(item.fix || '') })])
      ]);
    }

    function show(answer) {
      var findings = Array.isArray(answer.findings) ? answer.findings : [];
      if (!findings.length) {
        say(t('check_ok'), 'ok');
        announce(t('check_ok'));
        return;
      }
      clear(result);
      var summary = t('check_flagged', { count: findings.length });
      appendAll(result, [el('p', { className: 'problem-inline', attrs: { 'data-state': 'flagged' } }, [summary]),
        el('ul', { id: 'check-findings', className: 'findings' }, findings.map(finding))]);
      announce(summary);
      scheduleResize();
    }

    function run(quiet) {
      if (busy) { return; }
      busy = true;
      button.setAttribute('aria-busy', 'true');
      client.get(EDITOR_PATH)
        .then(function (answer) {
          var draft = draftText(answer && answer[EDITOR_PATH]);
          if (!draft.text) {
            if (!quiet) { say(t('check_empty'), 'empty'); }
            return null;
          }
          say(t('check_busy'), 'busy');
          return backendRequest('POST', checkPath(), { text: draft.text })
            .then(function (data) { show(parseBody(data) || {}); }, function (failure) {
              var body = failureBody(failure);
              var said = body && typeof body.error === 'string' ? body.error.replace(/\.$/, '') : '';
              var status = failure && typeof failure.status === 'number' ? failure.status : 0;
              say(t('check_failed', { reason: said || (status ? 'HTTP ' + status : 'no answer') }), 'error');
            });
        }, function () { say(t('check_read_failed'), 'error'); })
        .catch(function (error) {
          say(t('check_failed', { reason: String(error && error.message || error) }), 'error');
        })
        .then(function () {
          busy = false;
          button.removeAttribute('aria-busy');
        });
    }

    button.addEventListener('click', function () { run(false); });
    // As the agent writes: checked once they pause (where the host tells the app).
    var timer = null;
    if (typeof client.on === 'function') {
      client.on('comment.text.changed', function () {
        if (timer) { window.clearTimeout(timer); }
        timer = window.setTimeout(function () { run(true); }, CHECK_DELAY_MS);
      });
    }
  }

  // ---- redacted details (the vault) ----

  // The timeline shows tokens ([PHONE_1]) where the customer wrote personal data; an
  // agent the account allows can reveal one with a click. Switchboard audits every
  // reveal, and the value is shown only here, never put into the ticket.
  function vaultPath(token) {
    var path = '/api/sidebar/tickets/' + encodeURIComponent(state.ticketId) + '/vault';
    return token ? path + '/' + encodeURIComponent(token.replace(/^\[|\]$/g, '')) + '/reveal' : path;
  }

  function revealOne(entry, item, button) {
    button.disabled = true;
    backendRequest('POST', vaultPath(entry.token), {})
      .then(function (data) {
        var answer = parseBody(data) || {};
        item.replaceChild(el('span', { className: 'vault-value' }, [String(answer.value || '')]), button);
        announce(t('vault_revealed', { token: entry.token }));
      }, function (failure) {
        button.disabled = false;
        var status = failure && failure.status;
        announce(status === 403 ? t('vault_not_allowed')
          : t('vault_failed', { token: entry.token, reason: status ? 'HTTP ' + status : 'no answer' }));
      })
      .then(scheduleResize);
  }

  function renderVault(answer) {
    var root = $('vault');
    clear(root);
    var tokens = (answer && answer.tokens) || [];
    if (!tokens.length) {
      root.appendChild(el('li', { className: 'muted' }, [t('vault_empty')]));
      return;
    }
    tokens.forEach(function (entry) {
      var item = el('li', { className: 'vault-entry' }, [el('code', {}, [String(entry.token)]), ' ']);
      if (entry.revealable) {
        var button = el('button', { type: 'button', className: 'button',
                                    attrs: { 'aria-label': t('vault_reveal_label', { token: entry.token }) } },
                        [t('vault_reveal')]);
        button.addEventListener('click', function () { revealOne(entry, item, button); });
        item.appendChild(button);
      } else {
        item.appendChild(el('span', { className: 'muted small' }, [t('vault_not_allowed')]));
      }
      root.appendChild(item);
    });
  }

  function loadVault() {
    $('vault-heading').textContent = t('vault_heading');
    return backendRequest('GET', vaultPath())
      .then(function (data) { renderVault(parseBody(data)); },
        function () { clear($('vault')); /* an older backend: nothing to reveal */ })
      .then(scheduleResize);
  }

  // ---- the supervisor dashboard ----

  // The app's credential stays in Zendesk's proxy (a secure setting), so the browser
  // cannot sign in by itself: the click asks the backend, through the proxy, for a
  // one-minute sign-in code and posts it to /dashboard/login in the new tab. The tab
  // is opened during the click (popup blockers allow that), the form posted when the
  // code arrives; without a code the tab shows the sign-in page.
  var DASHBOARD_WINDOW = 'switchboard-dashboard';

  function openDashboard(event) {
    event.preventDefault();
    var tab = window.open('', DASHBOARD_WINDOW);
    backendRequest('POST', '/api/sidebar/dashboard-session', {})
      .then(function (data) {
        var answer = parseBody(data) || {};
        if (!answer.code) { throw new Error('no sign-in code'); }
        var form = el('form', { method: 'post', action: state.backendUrl + '/dashboard/login',
                                target: DASHBOARD_WINDOW, className: 'visually-hidden' },
                      [el('input', { type: 'hidden', name: 'code', value: answer.code })]);
        document.body.appendChild(form);
        form.submit();
        document.body.removeChild(form);
      })
      .catch(function (error) {
        if (window.console) { window.console.error('[switchboard]', error); }
        if (tab) { tab.location.href = state.backendUrl + '/dashboard/login'; }
      });
  }

  function renderDashboardLink() {
    var link = $('dashboard-link');
    link.href = state.backendUrl + '/dashboard';
    link.onclick = openDashboard;
    clear(link);
    link.appendChild(document.createTextNode(t('dashboard_open')));
    link.appendChild(el('span', { className: 'visually-hidden' }, [' ' + t('opens_new_tab')]));
    $('dashboard-hint').textContent = t('dashboard_hint');
  }

  function render(data) {
    if (!data || typeof data !== 'object') { throw new Error('Switchboard answered with no ticket context'); }
    $('customer-heading').textContent = t('customer_heading');
    $('handoff-heading').textContent = t('handoff_heading');
    $('insight-heading').textContent = t('insight_heading');
    $('suggestions-heading').textContent = t('suggestions_heading');
    $('actions-heading').textContent = t('actions_heading');
    $('governed-heading').textContent = t('governed_heading');
    renderDashboardLink();
    renderCustomer(data.customer);
    renderReply(data.customer);
    renderCheck();
    renderHandoff(data.handoff);
    renderInsight(data.enrichment);
    renderSuggestions(data.suggestions);
    renderActions(data.actions);
    renderTimeline(data.timeline);
    $('problem').hidden = true;
    $('status').className = 'status';
    $('content').hidden = false;
    scheduleResize();
  }

  // The live call card (call_card.js) polls its own endpoint while the call lasts.
  function showCall(card) {
    if (!window.SwitchboardCallCard) { return; }
    window.SwitchboardCallCard.show(card, {
      t: t, el: el, clear: clear, safeHttpUrl: safeHttpUrl, resize: scheduleResize, announce: announce,
      fetch: function () {
        return backendRequest('GET', '/api/sidebar/tickets/' + encodeURIComponent(state.ticketId) + '/call')
          .then(parseBody);
      }
    });
  }

  // The wrap-up card (disposition.js): the chosen code, its confidence, and the agent's correction.
  function showDisposition(disposition) {
    if (!window.SwitchboardDisposition) { return; }
    window.SwitchboardDisposition.show(disposition || null, {
      t: t, el: el, clear: clear, resize: scheduleResize, announce: announce,
      save: function (code) {
        return backendRequest('POST', '/api/sidebar/tickets/' + encodeURIComponent(state.ticketId) + '/disposition',
          { code: code }).then(parseBody);
      },
      reason: function (failure) {
        var body = failureBody(failure);
        var status = failure && typeof failure.status === 'number' ? failure.status : 0;
        return body && typeof body.error === 'string' ? body.error.replace(/\.$/, '') : (status ? 'HTTP ' + status : 'no answer');
      }
    });
  }

  // ---- fitting the sidebar to the content -------------------------------------

  var lastHeight = 0;
  var resizePending = false;

  function scheduleResize() {
    if (!client || resizePending) { return; }
    resizePending = true;
    window.requestAnimationFrame(function () {
      resizePending = false;
      var height = Math.ceil(document.documentElement.scrollHeight);
      if (height !== lastHeight) {
        lastHeight = height;
        // Nothing to do if the host ignores it: the sidebar then simply scrolls.
        client.invoke('resize', { width: '100%', height: height + 'px' }).catch(function () {});
      }
    });
  }

  // ---- start ------------------------------------------------------------------

  $('retry').addEventListener('click', function () { load(); });
  $('timeline-toggle').addEventListener('click', toggleTimeline);

  if (!client) {
    // Opened outside Zendesk (no origin/app_guid in the URL): nothing to talk to.
    showProblem('outside_zendesk');
    return;
  }
  if (window.ResizeObserver) {
    new window.ResizeObserver(scheduleResize).observe(document.body);
  }
  load();
}());
