/*
 * Switchboard web chat widget: one tag on the company's site,
 *   <script src="https://<switchboard>/chat/widget.js" data-account="<slug>" defer></script>
 *
 * Why it is built this way:
 * - The API base is derived from this script's own src, so the tag is the only setting.
 * - Everything is rendered inside a Shadow DOM (its styles loaded from widget.css into the
 *   shadow root): the host page's CSS cannot reach the widget, and ours cannot leak out.
 * - Plain DOM, no framework, nothing to build: Switchboard serves this file as it is.
 * - Server text (bot answers, agent replies, error messages) is only ever set with
 *   textContent; links are built with createElement and only for http(s) URLs: a message
 *   must not be able to run script on the company's site.
 * - The visitor token (signed by Switchboard) is kept in localStorage under a key per
 *   account and sent as a Bearer header (no cookies): with the JSON-only POSTs this keeps
 *   the API CSRF-safe. EventSource cannot send headers, so the stream takes it in the query.
 * - Live messages come by Server-Sent Events; when the stream fails the widget polls
 *   every 3 s and tries the stream again later.
 * - A visitor who never opens the chat costs nothing: a session is only asked for on
 *   load when the visitor already has a token (to resume and hear replies), else on the
 *   first open.
 */
(function () {
  'use strict';

  var STRINGS = {
    launcher: 'Chat with {name}',
    launcher_unread: 'Chat with {name} ({count} new)',
    launcher_text: 'Chat',
    close: 'Close chat',
    subtitle: 'An automated assistant answers first. Ask for a person at any time.',
    log_label: 'Conversation',
    input_label: 'Your message',
    input_placeholder: 'Type your message…',
    send: 'Send',
    you: 'You',
    bot: 'Assistant',
    agent: 'Support agent',
    system: 'Notice',
    sending: 'Sending…',
    not_sent: 'Not sent.',
    retry: 'Try again',
    sources: 'Sources:',
    new_tab: '(opens in a new tab)',
    too_long: 'That message is too long: please keep it under 2000 characters.',
    too_fast: 'You are sending messages faster than this chat accepts. Please wait {seconds} seconds, then try again.',
    offline: 'The chat cannot reach the server right now. Check your connection and try again.',
    unavailable: 'The chat is not available right now. Please try again later.',
    identify_toggle: 'Get replies by text or email if you leave',
    identify_kind: 'Reply to me by',
    kind_phone: 'Text message',
    kind_email: 'Email',
    phone_label: 'Mobile number',
    email_label: 'Email address',
    send_code: 'Send me a code',
    code_sent: 'We sent a code to {masked}. Enter it here.',
    code_label: 'Code',
    verify: 'Confirm',
    verified: 'Confirmed: {masked}.',
    notify_legend: 'If you leave before someone replies',
    notify_none: 'Don\'t notify me',
    notify_sms: 'Text me the reply',
    notify_email: 'Email me the reply',
    save: 'Save',
    saved: 'Saved.'
  };

  // The same texts in the other languages Switchboard speaks (switchboard/locale/). The
  // widget follows the host page's <html lang>, then the visitor's browser, then the
  // account's locale; anything else is English.
  var TRANSLATIONS = {
    de: {
      launcher: 'Chat mit {name}', launcher_unread: 'Chat mit {name} ({count} neu)', launcher_text: 'Chat',
      close: 'Chat schließen',
      subtitle: 'Zuerst antwortet ein automatischer Assistent. Sie können jederzeit nach einem Menschen fragen.',
      log_label: 'Unterhaltung', input_label: 'Ihre Nachricht', input_placeholder: 'Nachricht schreiben…',
      send: 'Senden', you: 'Sie', bot: 'Assistent', agent: 'Support-Mitarbeiter', system: 'Hinweis',
      sending: 'Wird gesendet…', not_sent: 'Nicht gesendet.', retry: 'Erneut versuchen', sources: 'Quellen:',
      new_tab: '(öffnet in einem neuen Tab)',
      too_long: 'Diese Nachricht ist zu lang: bitte unter 2000 Zeichen bleiben.',
      too_fast: 'Sie senden schneller, als dieser Chat annimmt. Bitte warten Sie {seconds} Sekunden und versuchen Sie es dann erneut.',
      offline: 'Der Chat erreicht den Server gerade nicht. Prüfen Sie Ihre Verbindung und versuchen Sie es erneut.',
      unavailable: 'Der Chat ist gerade nicht verfügbar. Bitte versuchen Sie es später erneut.',
      identify_toggle: 'Antworten per SMS oder E-Mail erhalten, wenn Sie gehen',
      identify_kind: 'Antwort per', kind_phone: 'SMS', kind_email: 'E-Mail', phone_label: 'Handynummer',
      email_label: 'E-Mail-Adresse', send_code: 'Code senden',
      code_sent: 'Wir haben einen Code an {masked} gesendet. Geben Sie ihn hier ein.', code_label: 'Code',
      verify: 'Bestätigen', verified: 'Bestätigt: {masked}.', notify_legend: 'Falls Sie gehen, bevor jemand antwortet',
      notify_none: 'Nicht benachrichtigen', notify_sms: 'Antwort per SMS senden', notify_email: 'Antwort per E-Mail senden',
      save: 'Speichern', saved: 'Gespeichert.'
    },
    es: {
      launcher: 'Chatear con {name}', launcher_unread: 'Chatear con {name} ({count} nuevos)', launcher_text: 'Chat',
      close: 'Cerrar el chat',
      subtitle: 'Primero responde un asistente automático. Puede pedir hablar con una persona en cualquier momento.',
      log_label: 'Conversación', input_label: 'Su mensaje', input_placeholder: 'Escriba su mensaje…',
      send: 'Enviar', you: 'Usted', bot: 'Asistente', agent: 'Agente de soporte', system: 'Aviso',
      sending: 'Enviando…', not_sent: 'No enviado.', retry: 'Reintentar', sources: 'Fuentes:',
      new_tab: '(se abre en una pestaña nueva)',
      too_long: 'El mensaje es demasiado largo: no supere los 2000 caracteres.',
      too_fast: 'Está enviando mensajes más rápido de lo que este chat acepta. Espere {seconds} segundos y vuelva a intentarlo.',
      offline: 'El chat no puede conectar con el servidor ahora. Compruebe su conexión e inténtelo de nuevo.',
      unavailable: 'El chat no está disponible ahora. Inténtelo más tarde.',
      identify_toggle: 'Recibir respuestas por SMS o correo si se va',
      identify_kind: 'Responderme por', kind_phone: 'SMS', kind_email: 'Correo electrónico',
      phone_label: 'Número de móvil', email_label: 'Correo electrónico', send_code: 'Enviarme un código',
      code_sent: 'Hemos enviado un código a {masked}. Escríbalo aquí.', code_label: 'Código',
      verify: 'Confirmar', verified: 'Confirmado: {masked}.', notify_legend: 'Si se va antes de que alguien responda',
      notify_none: 'No avisarme', notify_sms: 'Enviarme la respuesta por SMS', notify_email: 'Enviarme la respuesta por correo',
      save: 'Guardar', saved: 'Guardado.'
    },
    fr: {
      launcher: 'Discuter avec {name}', launcher_unread: 'Discuter avec {name} ({count} nouveaux)', launcher_text: 'Chat',
      close: 'Fermer le chat',
      subtitle: 'Un assistant automatique répond d\'abord. Vous pouvez demander une personne à tout moment.',
      log_label: 'Conversation', input_label: 'Votre message', input_placeholder: 'Écrivez votre message…',
      send: 'Envoyer', you: 'Vous', bot: 'Assistant', agent: 'Conseiller', system: 'Information',
      sending: 'Envoi…', not_sent: 'Non envoyé.', retry: 'Réessayer', sources: 'Sources :',
      new_tab: '(s\'ouvre dans un nouvel onglet)',
      too_long: 'Ce message est trop long : restez sous 2000 caractères.',
      too_fast: 'Vous envoyez des messages plus vite que ce chat ne les accepte. Attendez {seconds} secondes, puis réessayez.',
      offline: 'Le chat ne joint pas le serveur pour le moment. Vérifiez votre connexion et réessayez.',
      unavailable: 'Le chat n\'est pas disponible pour le moment. Réessayez plus tard.',
      identify_toggle: 'Recevoir les réponses par SMS ou e-mail si vous partez',
      identify_kind: 'Me répondre par', kind_phone: 'SMS', kind_email: 'E-mail', phone_label: 'Numéro de mobile',
      email_label: 'Adresse e-mail', send_code: 'M\'envoyer un code',
      code_sent: 'Nous avons envoyé un code à {masked}. Saisissez-le ici.', code_label: 'Code',
      verify: 'Confirmer', verified: 'Confirmé : {masked}.', notify_legend: 'Si vous partez avant qu\'on vous réponde',
      notify_none: 'Ne pas me prévenir', notify_sms: 'M\'envoyer la réponse par SMS',
      notify_email: 'M\'envoyer la réponse par e-mail', save: 'Enregistrer', saved: 'Enregistré.'
    },
    it: {
      launcher: 'Chatta con {name}', launcher_unread: 'Chatta con {name} ({count} nuovi)', launcher_text: 'Chat',
      close: 'Chiudi la chat',
      subtitle: 'Prima risponde un assistente automatico. Puoi chiedere una persona in qualsiasi momento.',
      log_label: 'Conversazione', input_label: 'Il tuo messaggio', input_placeholder: 'Scrivi il tuo messaggio…',
      send: 'Invia', you: 'Tu', bot: 'Assistente', agent: 'Operatore', system: 'Avviso',
      sending: 'Invio…', not_sent: 'Non inviato.', retry: 'Riprova', sources: 'Fonti:',
      new_tab: '(si apre in una nuova scheda)',
      too_long: 'Il messaggio è troppo lungo: resta sotto i 2000 caratteri.',
      too_fast: 'Stai inviando messaggi più velocemente di quanto questa chat accetti. Attendi {seconds} secondi, poi riprova.',
      offline: 'La chat non raggiunge il server in questo momento. Controlla la connessione e riprova.',
      unavailable: 'La chat non è disponibile in questo momento. Riprova più tardi.',
      identify_toggle: 'Ricevi le risposte via SMS o email se esci',
      identify_kind: 'Rispondimi via', kind_phone: 'SMS', kind_email: 'Email', phone_label: 'Numero di cellulare',
      email_label: 'Indirizzo email', send_code: 'Inviami un codice',
      code_sent: 'Abbiamo inviato un codice a {masked}. Inseriscilo qui.', code_label: 'Codice',
      verify: 'Conferma', verified: 'Confermato: {masked}.', notify_legend: 'Se esci prima che qualcuno risponda',
      notify_none: 'Non avvisarmi', notify_sms: 'Inviami la risposta via SMS', notify_email: 'Inviami la risposta via email',
      save: 'Salva', saved: 'Salvato.'
    },
    pt: {
      launcher: 'Conversar com {name}', launcher_unread: 'Conversar com {name} ({count} novas)', launcher_text: 'Chat',
      close: 'Fechar o chat',
      subtitle: 'Primeiro responde um assistente automático. Pode pedir uma pessoa a qualquer momento.',
      log_label: 'Conversa', input_label: 'A sua mensagem', input_placeholder: 'Escreva a sua mensagem…',
      send: 'Enviar', you: 'Você', bot: 'Assistente', agent: 'Agente de suporte', system: 'Aviso',
      sending: 'A enviar…', not_sent: 'Não enviada.', retry: 'Tentar de novo', sources: 'Fontes:',
      new_tab: '(abre num novo separador)',
      too_long: 'A mensagem é demasiado longa: mantenha-a abaixo de 2000 caracteres.',
      too_fast: 'Está a enviar mensagens mais depressa do que este chat aceita. Aguarde {seconds} segundos e tente de novo.',
      offline: 'O chat não consegue contactar o servidor agora. Verifique a ligação e tente de novo.',
      unavailable: 'O chat não está disponível agora. Tente mais tarde.',
      identify_toggle: 'Receber respostas por SMS ou email se sair',
      identify_kind: 'Responder-me por', kind_phone: 'SMS', kind_email: 'Email', phone_label: 'Número de telemóvel',
      email_label: 'Endereço de email', send_code: 'Enviar-me um código',
      code_sent: 'Enviámos um código para {masked}. Introduza-o aqui.', code_label: 'Código',
      verify: 'Confirmar', verified: 'Confirmado: {masked}.', notify_legend: 'Se sair antes de alguém responder',
      notify_none: 'Não me avisar', notify_sms: 'Enviar-me a resposta por SMS', notify_email: 'Enviar-me a resposta por email',
      save: 'Guardar', saved: 'Guardado.'
    }
  };
  var texts = STRINGS;

  /* The first of `candidates` (language tags) we have texts for, as its primary subtag. */
  function language(candidates) {
    for (var i = 0; i < candidates.length; i += 1) {
      var primary = String(candidates[i] || '').toLowerCase().split(/[-_]/)[0];
      if (primary === 'en' || TRANSLATIONS[primary]) { return primary; }
    }
    return 'en';
  }

  function useLanguage(lang) {
    texts = lang === 'en' ? STRINGS : TRANSLATIONS[lang];
    return lang;
  }

  function t(key, values) {
    return (texts[key] || STRINGS[key]).replace(/\{(\w+)\}/g, function (whole, name) {
      return values && values[name] !== undefined ? String(values[name]) : whole;
    });
  }

  // ---- where we are ------------------------------------------------------------------

  var script = document.currentScript ||
    document.querySelector('script[src*="/chat/widget.js"][data-account]');
  if (!script || !script.src) { return; }
  var account = (script.getAttribute('data-account') || '').trim();
  var root = script.src.replace(/[?#].*$/, '').replace(/widget\.js$/, '');  // …/chat/
  if (!account) {
    console.error('Switchboard chat: add data-account="<your account slug>" to the script tag.');
    return;
  }
  var api = root + encodeURIComponent(account);
  var loaded = window.switchboardChats = window.switchboardChats || {};
  if (loaded[account]) { return; }  // the tag twice on one page: one widget
  loaded[account] = true;
  var TOKEN_KEY = 'switchboard.chat.' + account + '.token';
  var OPEN_KEY = 'switchboard.chat.' + account + '.open';
  var POLL_MS = 3000;
  var SSE_RETRY_MS = 30000;
  var MAX_LENGTH = 2000;

  function stored(storage, key, value) {
    try {
      if (value === undefined) { return window[storage].getItem(key); }
      if (value === null) { window[storage].removeItem(key); } else { window[storage].setItem(key, value); }
    } catch (e) { /* storage blocked (private mode, sandboxed frame): the chat still works */ }
    return null;
  }

  // ---- small DOM helpers ------------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === null || value === undefined || value === false) { return; }
      if (name === 'text') { node.textContent = value; } else if (name === 'className') { node.className = value; } else {
        node.setAttribute(name, value === true ? '' : value);
      }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }

  function safeUrl(value) {
    if (typeof value !== 'string') { return null; }
    try {
      var url = new URL(value);
      return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
    } catch (e) { return null; }
  }

  function uuid() {
    if (window.crypto && typeof window.crypto.randomUUID === 'function') { return window.crypto.randomUUID(); }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);  // randomUUID needs a secure context; this does not
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join('');
    return hex.slice(0, 8) + '-' + hex.slice(8, 12) + '-' + hex.slice(12, 16) + '-' + hex.slice(16, 20) + '-' + hex.slice(20);
  }

  /* The text colour (near-black or white) with the better contrast on `hex`. */
  function textOn(hex) {
    var m = /^#?([0-9a-f]{6})$/i.exec(hex || '');
    if (!m) { return '#ffffff'; }
    var channels = [0, 2, 4].map(function (i) {
      var c = parseInt(m[1].slice(i, i + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    var luminance = 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2];
    var onWhite = 1.05 / (luminance + 0.05);
    var onDark = (luminance + 0.05) / (0.0119 + 0.05);  // #1a1a1a
    return onDark > onWhite ? '#1a1a1a' : '#ffffff';
  }

  // ---- talking to Switchboard -------------------------------------------------------

  function ApiError(status, message, retryAfter) {
    this.status = status;
    this.message = message;
    this.retryAfter = retryAfter || null;  // seconds, from Retry-After (exposed by Switchboard's CORS)
  }

  function call(method, path, body, token) {
    var headers = {};
    if (body !== undefined) { headers['Content-Type'] = 'application/json'; }
    if (token) { headers.Authorization = 'Bearer ' + token; }
    return fetch(api + path, {
      method: method, headers: headers, mode: 'cors', credentials: 'omit', cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      return response.text().then(function (raw) {
        var data = null;
        try { data = raw ? JSON.parse(raw) : null; } catch (e) { data = null; }
        if (!response.ok) {
          var said = data && typeof data.error === 'string' ? data.error : t('unavailable');
          var wait = parseInt(response.headers.get('Retry-After') || '', 10);
          throw new ApiError(response.status, said, wait > 0 ? wait : null);
        }
        return data || {};
      });
    }, function () { throw new ApiError(0, t('offline')); });
  }

  // ---- state ------------------------------------------------------------------------

  var state = {
    config: null,
    token: stored('localStorage', TOKEN_KEY),
    session: null,        // a promise while or once the session is started
    lastId: 0,
    unread: 0,
    open: false,
    source: null,         // the EventSource
    sseFailures: 0,
    pollTimer: null,
    sseTimer: null
  };

  var ui = {};

  // ---- building the widget ----------------------------------------------------------

  function build(config) {
    var host = el('switchboard-chat', {'data-account': account});
    // The host element is a zero-size anchor; inline !important beats the page's rules.
    host.setAttribute('style', 'all: initial !important; display: block !important; position: static !important;');
    var shadow = host.attachShadow({mode: 'open'});
    var brand = /^#[0-9a-fA-F]{6}$/.test(config.colour || '') ? config.colour : '#1f73b7';
    var name = typeof config.name === 'string' && config.name ? config.name : 'Support';

    var sheet = el('link', {rel: 'stylesheet', href: root + 'widget.css'});
    var reveal = function () { wrapper.style.removeProperty('visibility'); };
    sheet.addEventListener('load', reveal);  // no flash of unstyled widget
    sheet.addEventListener('error', reveal);  // unstyled, but usable
    var lang = useLanguage(language([document.documentElement.lang].concat(
      navigator.languages || [navigator.language], [config.locale])));
    var wrapper = el('div', {className: 'sb-root', lang: lang});
    wrapper.style.setProperty('--sb-brand', brand);
    wrapper.style.setProperty('--sb-on-brand', textOn(brand));
    wrapper.style.setProperty('visibility', 'hidden');

    ui.launcher = el('button', {type: 'button', className: 'launcher', 'aria-expanded': 'false',
      'aria-controls': 'sb-panel', 'aria-label': t('launcher', {name: name})}, [
      el('span', {className: 'launcher-icon', 'aria-hidden': 'true'}),
      el('span', {className: 'launcher-text', text: t('launcher_text')}),
      el('span', {className: 'badge', 'aria-hidden': 'true', hidden: true})
    ]);
    ui.badge = ui.launcher.querySelector('.badge');
    ui.name = name;

    ui.title = el('h2', {id: 'sb-title', text: name});
    ui.close = el('button', {type: 'button', className: 'close', 'aria-label': t('close')},
      [el('span', {'aria-hidden': 'true', text: '×'})]);
    var header = el('header', {className: 'header'}, [
      el('div', {className: 'titles'}, [ui.title, el('p', {className: 'subtitle', id: 'sb-subtitle', text: t('subtitle')})]),
      ui.close
    ]);

    ui.problem = el('p', {className: 'problem', role: 'alert', hidden: true});
    ui.log = el('ol', {className: 'log', role: 'log', 'aria-live': 'polite', 'aria-label': t('log_label'),
      'aria-busy': 'true'});
    if (config.greeting) {
      ui.greeting = el('li', {className: 'msg msg-bot greeting'}, [
        el('span', {className: 'author', text: t('bot')}),
        el('p', {className: 'text', text: config.greeting})
      ]);
    }

    ui.identify = buildIdentify();

    ui.input = el('textarea', {id: 'sb-input', rows: '1', maxlength: String(MAX_LENGTH), autocomplete: 'off',
      placeholder: t('input_placeholder'), 'aria-describedby': 'sb-subtitle'});
    ui.send = el('button', {type: 'submit', className: 'send', text: t('send')});
    ui.composer = el('form', {className: 'composer', novalidate: true}, [
      el('label', {for: 'sb-input', className: 'visually-hidden', text: t('input_label')}),
      ui.input, ui.send
    ]);

    ui.panel = el('section', {id: 'sb-panel', className: 'panel', role: 'dialog', 'aria-modal': 'false',
      'aria-labelledby': 'sb-title', hidden: true}, [header, ui.problem, ui.log, ui.identify.root, ui.composer]);

    wrapper.appendChild(ui.launcher);
    wrapper.appendChild(ui.panel);
    shadow.appendChild(sheet);
    shadow.appendChild(wrapper);
    ui.host = host;
    ui.shadow = shadow;

    ui.launcher.addEventListener('click', function () { setOpen(!state.open, true); });
    ui.close.addEventListener('click', function () { setOpen(false, true); });
    ui.panel.addEventListener('keydown', function (event) {
      if (event.key === 'Escape') { event.preventDefault(); setOpen(false, true); }
    });
    ui.input.addEventListener('keydown', function (event) {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        submit();
      }
    });
    ui.input.addEventListener('input', grow);
    ui.composer.addEventListener('submit', function (event) { event.preventDefault(); submit(); });

    document.body.appendChild(host);
  }

  function grow() {
    ui.input.style.height = 'auto';
    ui.input.style.height = Math.min(ui.input.scrollHeight, 140) + 'px';
  }

  function setOpen(open, byUser) {
    state.open = open;
    ui.panel.hidden = !open;
    ui.launcher.setAttribute('aria-expanded', open ? 'true' : 'false');
    ui.host.setAttribute('data-open', open ? 'true' : 'false');
    stored('sessionStorage', OPEN_KEY, open ? '1' : null);
    // Full-screen on a phone, the panel is all there is: modal for assistive technology too.
    var fullScreen = !!(window.matchMedia && window.matchMedia('(max-width: 480px)').matches);
    ui.panel.setAttribute('aria-modal', open && fullScreen ? 'true' : 'false');
    if (open) {
      state.unread = 0;
      showUnread();
      ensureSession();
      scrollToEnd();
      if (byUser) { ui.input.focus(); }
    } else if (byUser) {
      ui.launcher.focus();
    }
  }

  function showUnread() {
    ui.badge.hidden = state.unread === 0;
    ui.badge.textContent = state.unread ? String(state.unread) : '';
    ui.launcher.setAttribute('aria-label', state.unread ?
      t('launcher_unread', {name: ui.name, count: state.unread}) : t('launcher', {name: ui.name}));
  }

  function problem(message) {
    ui.problem.textContent = message || '';
    ui.problem.hidden = !message;
  }

  function scrollToEnd() {
    ui.log.scrollTop = ui.log.scrollHeight;
  }

  // ---- messages ---------------------------------------------------------------------

  function renderMessage(msg, item) {
    var author = ['customer', 'bot', 'agent', 'system'].indexOf(msg.author) >= 0 ? msg.author : 'system';
    item = item || el('li', {});
    item.textContent = '';
    item.className = 'msg msg-' + author;
    if (typeof msg.id === 'number') { item.setAttribute('data-id', String(msg.id)); }
    if (msg.client_id) { item.setAttribute('data-client-id', msg.client_id); }
    item.removeAttribute('data-state');
    var label = {customer: t('you'), bot: t('bot'), agent: t('agent'), system: t('system')}[author];
    item.appendChild(el('span', {className: author === 'customer' ? 'author visually-hidden' : 'author', text: label}));
    var body = el('p', {className: 'text'});
    appendText(body, typeof msg.text === 'string' ? msg.text : '', author !== 'customer');
    item.appendChild(body);
    if (msg.at) {
      var when = new Date(msg.at);
      if (!isNaN(when.getTime())) {
        item.appendChild(el('time', {datetime: msg.at, className: 'visually-hidden',
          text: when.toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'})}));
      }
    }
    var sources = (Array.isArray(msg.sources) ? msg.sources : []).filter(function (s) { return s && s.title; });
    if (sources.length) {
      var list = el('ul', {className: 'sources', 'aria-label': t('sources')});
      sources.forEach(function (source) {
        var href = safeUrl(source.url);
        var entry = el('li', {});
        if (href) {
          var link = el('a', {href: href, target: '_blank', rel: 'noopener noreferrer'});
          link.textContent = String(source.title);
          link.appendChild(el('span', {className: 'visually-hidden', text: ' ' + t('new_tab')}));
          entry.appendChild(link);
        } else {
          entry.textContent = String(source.title);
        }
        list.appendChild(entry);
      });
      item.appendChild(el('span', {className: 'sources-label', 'aria-hidden': 'true', text: t('sources')}));
      item.appendChild(list);
    }
    var choices = (Array.isArray(msg.choices) ? msg.choices : []).filter(function (c) {
      return c && typeof c.value === 'string' && c.value;
    });
    if (choices.length) {
      var group = el('div', {className: 'choices', role: 'group', 'aria-label': label});
      choices.forEach(function (choice) {
        var button = el('button', {type: 'button', className: 'choice', 'data-value': choice.value,
          text: typeof choice.label === 'string' && choice.label ? choice.label : choice.value});
        button.addEventListener('click', function () { send(choice.value); });
        group.appendChild(button);
      });
      item.appendChild(group);
    }
    return item;
  }

  /* `text` into `node` as text, its http(s) URLs as links when `links` (replies carry
     them as SMS does, "More: https://…"); trailing punctuation stays the sentence's. */
  function appendText(node, text, links) {
    var at = 0;
    if (links) {
      text.replace(/https?:\/\/[^\s<>"']+/g, function (match, offset) {
        var url = match.replace(/[.,;:!?)\]]+$/, '');
        var href = safeUrl(url);
        if (href) {
          node.appendChild(document.createTextNode(text.slice(at, offset)));
          node.appendChild(el('a', {href: href, target: '_blank', rel: 'noopener noreferrer', text: url}));
          at = offset + url.length;
        }
        return match;
      });
    }
    node.appendChild(document.createTextNode(text.slice(at)));
  }

  /* Choices answer the latest question only: older ones are shown but cannot be picked. */
  function refreshChoices() {
    var items = ui.log.querySelectorAll('li.msg');
    var last = items.length ? items[items.length - 1] : null;
    Array.prototype.forEach.call(ui.log.querySelectorAll('button.choice'), function (button) {
      button.disabled = button.closest('li') !== last;
    });
  }

  function placeById(item, id) {
    var next = null;
    Array.prototype.some.call(ui.log.querySelectorAll('li[data-id]'), function (other) {
      if (other !== item && Number(other.getAttribute('data-id')) > id) { next = other; return true; }
      return false;
    });
    if (!next) {  // before the messages still on their way, which come last
      next = ui.log.querySelector('li[data-state]');
      if (next === item) { next = null; }
    }
    if (item.parentNode !== ui.log || item.nextSibling !== next) { ui.log.insertBefore(item, next); }
  }

  /* Add (or reconcile) a message from the server; returns true if it was new. */
  function receive(msg) {
    if (!msg || typeof msg.id !== 'number') { return false; }
    if (msg.id > state.lastId) { state.lastId = msg.id; }
    if (ui.log.querySelector('li[data-id="' + msg.id + '"]')) { return false; }
    var pending = null;
    if (msg.client_id) {
      Array.prototype.some.call(ui.log.querySelectorAll('li[data-client-id]'), function (item) {
        if (item.getAttribute('data-client-id') === msg.client_id) { pending = item; return true; }
        return false;
      });
    }
    var item = renderMessage(msg, pending);
    placeById(item, msg.id);
    refreshChoices();
    if (!pending && msg.author !== 'customer' && !state.open) {
      state.unread += 1;
      showUnread();
    }
    scrollToEnd();
    return !pending;
  }

  function renderHistory(messages) {
    Array.prototype.forEach.call(ui.log.querySelectorAll('li[data-id]'), function (item) { item.remove(); });
    if (ui.greeting && !ui.greeting.parentNode) { ui.log.insertBefore(ui.greeting, ui.log.firstChild); }
    (messages || []).forEach(function (msg) {
      if (!msg || typeof msg.id !== 'number') { return; }
      if (msg.id > state.lastId) { state.lastId = msg.id; }
      placeById(renderMessage(msg), msg.id);
    });
    refreshChoices();
    ui.log.setAttribute('aria-busy', 'false');
    scrollToEnd();
  }

  // ---- the session ------------------------------------------------------------------

  function ensureSession() {
    if (!state.session) {
      state.session = startSession().catch(function (error) {
        state.session = null;
        problem(error.message);
        ui.log.setAttribute('aria-busy', 'false');
        throw error;
      });
      state.session.catch(function () { /* shown in the panel */ });
    }
    return state.session;
  }

  function startSession() {
    var locale = (navigator.language || '').slice(0, 16) || null;
    return call('POST', '/session', {token: state.token || null, locale: locale}).then(function (data) {
      if (typeof data.token !== 'string') { throw new ApiError(0, t('unavailable')); }
      state.token = data.token;
      stored('localStorage', TOKEN_KEY, data.token);
      problem('');
      renderHistory(data.messages);
      ui.identify.resume(data.verified || null, data.notify || 'none');
      listen();
      return data;
    });
  }

  /* A proven phone or email joins the visitor to the customer who had it, whose web chat
     (from another browser, say) may hold messages older than anything shown: load the
     history again. */
  function reloadHistory() {
    stopLive();
    state.session = null;
    state.lastId = 0;
    return ensureSession();
  }

  /* The token went bad (expired, secret rotated): start over with a new visitor. */
  function renewSession() {
    stored('localStorage', TOKEN_KEY, null);
    state.token = null;
    state.session = null;
    stopLive();
    return ensureSession();
  }

  // ---- live messages: SSE, with polling while it fails -------------------------------

  /* How live messages come now, on the host element for the site's developers (and tests). */
  function live(how) {
    if (ui.host) { ui.host.setAttribute('data-live', how); }
  }

  function listen() {
    stopLive();
    if (typeof window.EventSource !== 'function') { startPolling(0); return; }
    var source = new EventSource(api + '/stream?token=' + encodeURIComponent(state.token) +
      '&after=' + state.lastId);
    state.source = source;
    live('connecting');
    source.addEventListener('message', function (event) {
      try { receive(JSON.parse(event.data)); } catch (e) { /* not a message: ignore */ }
    });
    source.addEventListener('open', function () {
      state.sseFailures = 0;
      stopPolling();
      live('stream');
    });
    source.addEventListener('error', function () {
      // The server ends each stream after about a minute and the browser reconnects at
      // once (CONNECTING). Until the stream is open again the widget polls, so nothing
      // waits on a stream a proxy or firewall blocks; a refused stream (CLOSED), or one
      // that keeps failing, is given up and tried again later.
      state.sseFailures += 1;
      var closed = source.readyState === EventSource.CLOSED;
      if (closed || state.sseFailures >= 3) {
        source.close();
        if (state.source === source) { state.source = null; }
        clearTimeout(state.sseTimer);
        state.sseTimer = setTimeout(function () { state.sseFailures = 0; listen(); }, SSE_RETRY_MS);
      }
      startPolling(closed ? 0 : POLL_MS);
    });
  }

  function stopLive() {
    if (state.source) { state.source.close(); state.source = null; }
    clearTimeout(state.sseTimer);
    stopPolling();
  }

  function startPolling(delay) {
    if (state.pollTimer) { return; }
    var round = state.pollRound = (state.pollRound || 0) + 1;  // a stopped loop's last answer ends it
    live('polling');
    var tick = function () {
      call('GET', '/messages?after=' + state.lastId, undefined, state.token).then(function (data) {
        if (round === state.pollRound) { (data.messages || []).forEach(receive); }
      }, function (error) {
        if (error.status === 401 && round === state.pollRound) { stopPolling(); renewSession(); }
      }).then(function () {
        if (state.pollTimer && round === state.pollRound) { state.pollTimer = setTimeout(tick, POLL_MS); }
      });
    };
    state.pollTimer = setTimeout(tick, delay);
  }

  function stopPolling() {
    clearTimeout(state.pollTimer);
    state.pollTimer = null;
    state.pollRound = (state.pollRound || 0) + 1;
  }

  // ---- sending ----------------------------------------------------------------------

  function submit() {
    var text = ui.input.value.trim();
    if (!text) { return; }
    if (text.length > MAX_LENGTH) { problem(t('too_long')); return; }
    ui.input.value = '';
    grow();
    send(text);
  }

  function send(text, clientId, item) {
    clientId = clientId || uuid();
    if (!item) {
      item = renderMessage({author: 'customer', text: text, client_id: clientId});
      ui.log.appendChild(item);
    }
    item.setAttribute('data-state', 'sending');
    var status = el('span', {className: 'delivery', text: t('sending')});
    item.appendChild(status);
    refreshChoices();
    scrollToEnd();
    problem('');
    var post = function (retried) {
      return call('POST', '/messages', {text: text, client_id: clientId}, state.token).catch(function (error) {
        if (error.status === 401 && !retried) {
          return renewSession().then(function () { return post(true); });
        }
        throw error;
      });
    };
    ensureSession().then(function () { return post(false); }).then(function () {
      if (item.getAttribute('data-state') === 'sending') {  // still not echoed by the stream
        item.setAttribute('data-state', 'sent');
        status.remove();
      }
    }, function (error) {
      if (!item.parentNode || !item.hasAttribute('data-state')) { return; }
      item.setAttribute('data-state', 'failed');
      status.textContent = t('not_sent') + ' ';
      var again = el('button', {type: 'button', className: 'retry', text: t('retry')});
      again.addEventListener('click', function () { status.remove(); send(text, clientId, item); });
      status.appendChild(again);
      // A rate limit's own text names the limit ("10 per 1 minute"): say it in words.
      problem(error.status === 429 ? t('too_fast', {seconds: error.retryAfter || 60}) : error.message);
      scrollToEnd();
    });
  }

  // ---- identify: a code by text or email, then how to hear about replies -------------

  function buildIdentify() {
    var kind = 'phone';
    var value = '';
    var verifiedKind = null;
    var toggle = el('button', {type: 'button', className: 'link-button identify-toggle', 'aria-expanded': 'false',
      'aria-controls': 'sb-identify', text: t('identify_toggle')});
    var message = el('p', {className: 'identify-message', role: 'status'});

    // step 1: how and where
    var phoneRadio = el('input', {type: 'radio', name: 'sb-kind', id: 'sb-kind-phone', value: 'phone', checked: true});
    var emailRadio = el('input', {type: 'radio', name: 'sb-kind', id: 'sb-kind-email', value: 'email'});
    var valueLabel = el('label', {for: 'sb-contact', text: t('phone_label')});
    var contact = el('input', {id: 'sb-contact', type: 'tel', autocomplete: 'tel', required: true});
    var ask = el('form', {className: 'identify-step', novalidate: true}, [
      el('fieldset', {}, [
        el('legend', {text: t('identify_kind')}),
        el('span', {className: 'radio'}, [phoneRadio, el('label', {for: 'sb-kind-phone', text: t('kind_phone')})]),
        el('span', {className: 'radio'}, [emailRadio, el('label', {for: 'sb-kind-email', text: t('kind_email')})])
      ]),
      valueLabel, contact,
      el('button', {type: 'submit', className: 'secondary', text: t('send_code')})
    ]);
    [phoneRadio, emailRadio].forEach(function (radio) {
      radio.addEventListener('change', function () {
        kind = radio.value;
        valueLabel.textContent = t(kind === 'phone' ? 'phone_label' : 'email_label');
        contact.type = kind === 'phone' ? 'tel' : 'email';
        contact.autocomplete = kind === 'phone' ? 'tel' : 'email';
      });
    });

    // step 2: the code
    var sentTo = el('p', {id: 'sb-code-hint'});
    var code = el('input', {id: 'sb-code', type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code',
      'aria-describedby': 'sb-code-hint', required: true});
    var check = el('form', {className: 'identify-step', novalidate: true, hidden: true}, [
      sentTo, el('label', {for: 'sb-code', text: t('code_label')}), code,
      el('button', {type: 'submit', className: 'secondary', text: t('verify')})
    ]);

    // step 3: notify or not
    var who = el('p', {className: 'verified'});
    var notifyNone = el('input', {type: 'radio', name: 'sb-notify', id: 'sb-notify-none', value: 'none', checked: true});
    var notifyYes = el('input', {type: 'radio', name: 'sb-notify', id: 'sb-notify-yes', value: 'sms'});
    var notifyYesLabel = el('label', {for: 'sb-notify-yes', text: t('notify_sms')});
    var prefs = el('form', {className: 'identify-step', novalidate: true, hidden: true}, [
      who,
      el('fieldset', {}, [
        el('legend', {text: t('notify_legend')}),
        el('span', {className: 'radio'}, [notifyYes, notifyYesLabel]),
        el('span', {className: 'radio'}, [notifyNone, el('label', {for: 'sb-notify-none', text: t('notify_none')})])
      ]),
      el('button', {type: 'submit', className: 'secondary', text: t('save')})
    ]);

    var body = el('div', {id: 'sb-identify', className: 'identify-body', hidden: true}, [ask, check, prefs, message]);
    var rootNode = el('div', {className: 'identify'}, [toggle, body]);

    function say(text, isError) {
      message.textContent = text || '';
      message.className = 'identify-message' + (isError ? ' error' : '');
    }

    function show(step) {
      ask.hidden = step !== ask;
      check.hidden = step !== check;
      prefs.hidden = step !== prefs;
    }

    function unavailable(error) {
      if (error.status === 404 || error.status === 405 || error.status === 501) {
        rootNode.hidden = true;  // this Switchboard has no identity endpoints (yet)
        return true;
      }
      return false;
    }

    function showVerified(verified, notify) {
      verifiedKind = verified.kind === 'email' ? 'email' : 'phone';
      who.textContent = t('verified', {masked: verified.masked || ''});
      notifyYes.value = verifiedKind === 'email' ? 'email' : 'sms';
      notifyYesLabel.textContent = t(verifiedKind === 'email' ? 'notify_email' : 'notify_sms');
      notifyYes.checked = notify !== 'none' && notify === notifyYes.value;
      notifyNone.checked = !notifyYes.checked;
      show(prefs);
    }

    toggle.addEventListener('click', function () {
      var opening = body.hidden;
      body.hidden = !opening;
      toggle.setAttribute('aria-expanded', opening ? 'true' : 'false');
      if (opening) {
        var first = body.querySelector('form:not([hidden]) input:not([type=radio]), form:not([hidden]) input:checked');
        if (first) { first.focus(); }
      }
    });

    ask.addEventListener('submit', function (event) {
      event.preventDefault();
      value = contact.value.trim();
      if (!value) { contact.focus(); return; }
      say('');
      ensureSession().then(function () {
        return call('POST', '/identify', {kind: kind, value: value}, state.token);
      }).then(function (data) {
        sentTo.textContent = t('code_sent', {masked: data.masked || value});
        show(check);
        code.value = '';
        code.focus();
      }, function (error) {
        if (!unavailable(error)) { say(error.message, true); }
      });
    });

    check.addEventListener('submit', function (event) {
      event.preventDefault();
      var entered = code.value.trim();
      if (!entered) { code.focus(); return; }
      say('');
      call('POST', '/verify', {kind: kind, value: value, code: entered}, state.token).then(function (data) {
        showVerified(data.verified || {kind: kind, masked: ''}, 'none');
        notifyYes.focus();
        reloadHistory();
      }, function (error) {
        if (!unavailable(error)) { say(error.message, true); code.focus(); }
      });
    });

    prefs.addEventListener('submit', function (event) {
      event.preventDefault();
      var notify = notifyYes.checked ? notifyYes.value : 'none';
      call('PUT', '/preferences', {notify: notify}, state.token).then(function () {
        say(t('saved'));
      }, function (error) {
        if (!unavailable(error)) { say(error.message, true); }
      });
    });

    return {
      root: rootNode,
      resume: function (verified, notify) {
        if (verified && verified.kind) { showVerified(verified, notify); } else if (!verifiedKind) { show(ask); }
      }
    };
  }

  // ---- start ------------------------------------------------------------------------

  function start() {
    call('GET', '/config').then(function (config) {
      state.config = config;
      build(config);
      if (state.token) { ensureSession(); }  // resume: history, and replies while closed
      if (stored('sessionStorage', OPEN_KEY) === '1') { setOpen(true, false); }
      script.setAttribute('data-state', 'ready');
    }, function (error) {
      // Not allowed on this site, unknown account, or Switchboard unreachable: no widget
      // for the visitor, and the reason for the site's developers (on the tag and in the
      // console). A refused origin gets no CORS headers, so the browser hides the answer.
      script.setAttribute('data-state', 'unavailable');
      console.error('Switchboard chat is not available here: ' + (error.status ? error.message :
        'could not load ' + api + '/config. Either Switchboard is unreachable or this site (' +
        window.location.origin + ') is not in the account\'s webchat_origins setting.'));
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
}());
