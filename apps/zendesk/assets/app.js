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
    "outside_zendesk_body": "This page is the Switchboard ticket sidebar app; it only works when Zendesk loads it in a ticket."
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
  var state = { backendUrl: null, ticketId: null, data: null };

  function backendRequest(method, path, body) {
    var options = {
      url: state.backendUrl + path,
      type: method,
      secure: true,
      headers: { Authorization: AUTHORIZATION },
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
    return Promise.all([client.metadata(), client.get('ticket.id')])
      .then(function (results) {
        var settings = (results[0] && results[0].settings) || {};
        state.backendUrl = typeof settings.backend_url === 'string'
          ? settings.backend_url.replace(/\/+$/, '') : '';
        state.ticketId = results[1] && results[1]['ticket.id'];
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
            announce(t('loaded'));
            if (hadFocus) { $('customer-heading').focus(); }
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
      ]));
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

  function render(data) {
    if (!data || typeof data !== 'object') { throw new Error('Switchboard answered with no ticket context'); }
    $('customer-heading').textContent = t('customer_heading');
    $('handoff-heading').textContent = t('handoff_heading');
    $('insight-heading').textContent = t('insight_heading');
    $('suggestions-heading').textContent = t('suggestions_heading');
    $('actions-heading').textContent = t('actions_heading');
    renderCustomer(data.customer);
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
