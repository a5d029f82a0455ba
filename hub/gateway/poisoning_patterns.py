"""The poisoning scanner's instruction patterns: what text addressed to the model, rather than to the person
reviewing a tool, looks like (in English and the commonest other languages), and where secrets live.

They run over text `poisoning.py` has normalised (invisible characters removed, NFKC, casefolded, look-alikes
folded); `_rx` puts each set behind prefilter.py's word index. `instruction_kinds` is what the scanner calls.
"""

from __future__ import annotations

import re

from hub.gateway.prefilter import Alternatives

_GAP = r"[\W_]*"  # between words: any run of spaces/punctuation, or none (a hidden character was there)


_CLASS_WITH_SPACE = re.compile(r"(?<!\\)\[(?:\\.|[^\]\\])* ")  # a "[" not escaped, then a space before its "]"


def _rx(*templates: str) -> Alternatives:
    """Case-insensitive alternatives from templates in which a space means `_GAP` (searched behind a prefilter
    of the words each one needs: prefilter.py). A space inside a character class would be replaced too, so a
    class spells blanks as \\s."""
    for template in templates:
        if _CLASS_WITH_SPACE.search(template):
            raise ValueError(f"a space inside a character class: {template!r}")
    return Alternatives([t.replace(" ", _GAP) for t in templates], re.IGNORECASE | re.MULTILINE)


_IMPORTANT_BLOCK = _rx(
    r"<\s*/?\s*(?:important|system|sys|instructions?|secret|hidden|admin|critical|system_prompt"
    r"|(?:ai|assistant|model|llm)_instructions?)\b[^<>]{0,40}>",
    r"\[\s*/?\s*(?:system|sys)\s*\]",
    # the same in template and wiki brackets: {{#system}}, {{important}}, [[system]]
    r"\{\{\s*[#/]?\s*(?:system|important|instructions?|admin|assistant|hidden|secret)\b[^{}\n]{0,40}\}\}",
    r"\[\[\s*/?\s*(?:system|important|instructions?|admin|hidden|secret)\b[^\[\]\n]{0,40}\]\]",
)

# Files and values that hold secrets. A name is only a finding beside a cue that the model should read or pass it
# on (`_EXFIL_CUE`): an SSH tool may well say where its key lives.
_SECRET_PATH = Alternatives(
    [
        r"\.ssh(?:/|\b)",
        r"(?<![a-z0-9])id_(?:rsa|dsa|ecdsa|ed25519)(?![a-z0-9])",
        r"/etc/(?:passwd|shadow|sudoers)\b",
        r"\.aws/credentials|\.git-credentials|\.terraform\.d/credentials",
        r"\.(?:netrc|npmrc|pypirc|pgpass|gnupg)\b|\.my\.cnf\b|\.vault-token\b|wallet\.dat",
        r"\.docker/config\.json|\.kube/config|\.config/gh/hosts\.yml|\.config/gcloud|\.azure/",
        r"\.cursor/mcp\.json|\bmcp\.json\b|claude_desktop_config\.json",
        r"\.(?:bash|zsh|sh|fish|python|node_repl|psql|mysql|sqlite)_history\b",
        r"/proc/(?:self|\d+|\*)/environ\b|\bprintenv\b",
        r"(?<![\w.])\.env\b",
    ],
    re.IGNORECASE,
)
# An environment variable named for a secret (OPENAI_API_KEY, AWS_SECRET_ACCESS_KEY, GITHUB_TOKEN): upper case, as
# such variables are written (a user_token or access_token parameter names no secret), so searched in the text as
# written rather than in its casefolded copy.
_SECRET_ENV = re.compile(
    r"[A-Z0-9]_(?:API_?KEY|SECRET(?:_ACCESS)?_KEY|CLIENT_SECRET|SECRET|TOKEN|ACCESS_TOKEN|AUTH_TOKEN|PASSWORD|PASSWD"
    r"|PRIVATE_KEY)(?![A-Za-z0-9_])"
)
# What turns "the key is at ~/.ssh/id_rsa" (an SSH tool documenting itself) into an exfiltration order.
_EXFIL_CUE = _rx(
    r"\b(?:pass|send|include|upload|attach|forward|post|paste|provide|supply(?![\s-]*chain)|exfiltrate|leak|share"
    r"|transmit|embed|put|append|copy)\b",
    r"\b(?:its|their|the files?'?s?) contents?\b|\bcontents? (?:of|from)\b|\bthe values? of\b|\bthe output\b",
    r"(?:[.!:;,(\n]\s*|\b(?:first|always|must|should|please|you|also|then|and)\s+)(?:read|cat|open|access|load)\b",
    # where the value goes: "... in the notes field", "... as the key argument"
    r"\b(?:in|into|as|inside) (?:the |a |an |its )?[`'\"]?[\w-]+[`'\"]? (?:parameter|argument|arg|field|param)s?\b",
    # the same verbs in other languages (Spanish, Portuguese, Italian, French, German)
    r"\b(?:envía|envia|incluye|adjunta|pasa|lee|envie|inclua|leia|invia|includi|leggi|allega|envoie|inclus|joins"
    r"|transmets|lis|sende|schicke|lies|füge|fuge|hänge|hange|übergib|ubergib|übergebe|ubergebe)\b",
)
# ... and in scripts whose words have no spaces or whose letters the look-alike folding would change.
_EXFIL_CUE_FOREIGN = re.compile(
    r"读取|读出|发送|传入|传给|附加|上传|作为|填入|放入|読み取|読んで|送信|送って|含め|渡して"
    r"|прочита|отправ|передай|передать|включи|вставь|загрузи"
)
# A parameter's name made of words (content_from_reading_ssh_id_rsa): its words, searched for a secret and a
# verb that reads it.
IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[_.-][A-Za-z0-9]+)+|[a-z]+(?:[A-Z][a-z0-9]+)+")
IDENTIFIER_SPLIT = re.compile(r"[_.-]+|(?<=[a-z0-9])(?=[A-Z])")
IDENTIFIER_SECRET = re.compile(
    r"\b(?:contents?|reading|read|dump|copy|values?)\b.{0,60}"
    r"\b(?:ssh|id rsa|id ed25519|private keys?|aws credentials|credentials file|netrc|npmrc|pypirc|env file"
    r"|dotenv|keychain|wallet|passwords?|bash history|shell history|environ)\b"
    r"|\b(?:ssh (?:private )?key|id rsa|id ed25519|private key|aws credentials|credentials file|netrc|npmrc"
    r"|env file|dotenv|keychain|passwords? file|bash history|shell history)s? (?:contents?|dump|copy|values?)\b"
)

_USER = r"(?:the |your |this |our )?(?:user|human|end user|person you(?:'re| are) (?:helping|assisting|talking to))s?"

_MODEL_INSTRUCTION = _rx(
    # overriding the model's instructions
    r"\b(?:ignore|disregard|forget|override|bypass|overrule|discard) (?:(?:all|any|every|the|your|of|these|those) )*"
    r"(?:previous|prior|above|earlier|preceding|former|original|initial|safety) "
    r"(?:instructions?|prompts?|messages?|directions?|directives?|rules|guidelines|guidance|constraints|context"
    r"|commands?)\b",
    r"\b(?:ignore|disregard|forget|override|bypass|overrule|discard|abandon) (?:(?:all|any|of) )*your "
    r"(?:(?:previous|prior|safety|security|existing|current|original|system|core|usual) )?(?:instructions|guidelines"
    r"|rules|guardrails|training|polic(?:y|ies)|restrictions|constraints|programming|directives|principles)\b",
    r"\b(?:ignore|disregard) (?:what|anything|everything) (?:you were|you've been|you have been|the user) "
    r"(?:told|said|asked)\b",
    r"\bforget (?:everything|all) (?:you|that|above|before|previous|prior|i|we|else)\b",
    r"\bforget (?:your|all your|the) (?:instructions|rules|guidelines|training|prompt)\b",
    # ... or declaring them void
    r"\b(?:instructions?|guidance|guidelines|rules|directions|directives) (?:that |which )?you (?:received|were given"
    r"|got|have been given|were told|had|have) (?:earlier|before|previously|so far|until now|up to now)\b",
    r"\b(?:your|earlier|previous|prior|above|original|initial|safety|content|system|existing) (?:\w+ )?"
    r"(?:instructions?|guidance|guidelines|rules|directions|directives|constraints|restrictions|polic(?:y|ies)"
    r"|filters)\b[^\n.]{0,20}\b(?:no longer (?:apply|applies|valid|hold|holds|matter)|(?:are|is|have been|has been)"
    r" (?:now |hereby |temporarily )?(?:void|obsolete|revoked|cancell?ed|lifted|suspended|disabled|superseded"
    r"|overridden|waived|turned off|removed|deactivated))\b",
    r"\b(?:earlier|previous|prior|above|original|initial|safety) (?:\w+ )?(?:instructions|directions|guidelines"
    r"|guidance|directives)\b[^\n.]{0,60}\b(?:can|should|must|may|are to|is to) (?:now )?be (?:safely )?(?:set aside"
    r"|put aside|ignored|disregarded|dropped|forgotten|overridden|bypassed|skipped)\b",
    r"\b(?:takes?|taking|have|has) (?:precedence|priority) over (?:the |any |all )?(?:user'?s?|your|system|other"
    r"|previous|prior) (?:instructions|requests?|prompts?|messages|commands|rules|guidelines|directions|wishes)\b",
    r"\b(?:supersedes?|overrides?|overrules?) (?:the |any |all )?(?:user'?s?|your|system|other|previous|prior) "
    r"(?:instructions|requests|prompts?|messages|commands|rules|guidelines|directions)\b",
    # claims of authority or consent
    r"\btreat\b[^\n.]{0,60}\bas (?:if it (?:came|comes|were) from|coming from|sent by|written by|issued by|from) "
    r"(?:the |your )?(?:system|administrator|admin|developer|operator|user|anthropic|openai)\b",
    r"\byou (?:have been|are|were) (?:now )?(?:granted|given) (?:elevated|admin|administrator|root|full|unrestricted"
    r"|special|superuser) (?:privileges|access|rights|permissions)\b",
    r"\bwithout (?:asking|consulting|checking with|prompting|confirming with) " + _USER + r"\b",
    r"\bwithout (?:asking|requesting|waiting) (?:for )?(?:the user'?s? |user |explicit |any |their )?"
    r"(?:confirmation|approval|permission|consent)\b",
    r"\b(?:never|do not|don'?t|no need to|need not|needn'?t) (?:ask|request|wait for|seek) (?:the user |them )?"
    r"(?:for )?(?:the user'?s? |user |explicit |any |their )?(?:confirmation|approval|permission|consent)\b",
    r"\bskip(?:ping)? (?:the |any |all )?(?:usual |normal |standard |user'?s? |explicit )?(?:confirmation|approval"
    r"|permission|consent) (?:step|prompt|check|dialog|request)s?\b",
    r"\b(?:approved|authori[sz]ed|consented to) (?:all|every|any)\b[^\n.]{0,40}\b(?:in advance|beforehand"
    r"|ahead of time)\b",
    r"\bno need to (?:ask|check|confirm)(?: (?:the user|them|first|anyone))?\s*(?:[.;!)]|$)",
    r"\bno longer (?:need|require)s? (?:the user'?s? |user |explicit |any |their )?"
    r"(?:confirmation|approval|permission|consent)\b",
    # secrecy from the user
    r"\b(?:do not|don'?t|never|must not|mustn'?t|should not|shouldn'?t) (?:tell|inform|mention|reveal|disclose) "
    r"(?:(?:this|that|it|anything|them|any of this) )?(?:to )?(?:the |your )?(?:user|human)s?(?!'s\b)\b",
    r"\bwithout (?:telling|informing|mentioning|revealing|disclosing|notifying|alerting) "
    r"(?:(?:this|that|it|anything|them|any of this) )?(?:to )?(?:the |your )?(?:user|human)s?(?!'s\b)\b",
    r"\b(?:do not|don'?t|never|without) (?:let|letting|allow|allowing) (?:the |your )?(?:user|human)s? "
    r"(?:know|see|notice|find out)\b",
    r"\b(?:hide|conceal|keep) (?:this|it|that|these|them) (?:secret )?from (?:the |your )?(?:user|human)\b",
    r"\b(?:the )?user (?:must|should|need|needs to|does|do) not (?:know|see|be told|be informed|notice|find out)\b",
    r"\b(?:user|human|end user|person you(?:'re| are) (?:helping|assisting|talking to))s? (?:doesn'?t|does not|don'?t"
    r"|do not|needn'?t|need not|mustn'?t|shouldn'?t|won'?t) (?:need to |have to )?(?:know|see|hear|be told|be informed"
    r"|notice|find out|learn)\b",
    r"\b(?:could|would|might|will|may) (?:even )?(?:upset|scare|alarm|frighten|worry|annoy) (?:the |your )?user\b",
    r"\bkeep (?:this|it|that|these|them|the \w+)(?: \w+)? to yourself\b",
    r"\b(?:remains?|stays?|kept|keep (?:it|this|that)) between (?:you and (?:me|us|the tool|this tool|the server)"
    r"|us)\b",
    r"\b(?:user|human|end user)s? (?:should |must |will |is to |are to )?(?:be )?(?:kept|left) (?:out of the loop"
    r"|in the dark|unaware|uninformed)\b",
    r"\bkeep (?:the |your )?(?:user|human|end user)s? (?:out of the loop|in the dark|unaware|uninformed)\b",
    r"\b(?:do not|don'?t|never|no need to) (?:mention|reveal|disclose|bring up|report|say anything about|talk about) "
    r"(?:that you|(?:this|that|these|the) (?:prefix|step|instruction|note|detail|part|call|request|read|file)s?\b"
    r"|any of (?:this|it|that|these))",
    r"\b(?:no need to|needn'?t|don'?t need to|do not need to|not necessary to) (?:tell|inform|notify|alert|mention "
    r"(?:this|it|that) to|bring (?:this|it|that|any of (?:this|it|that)) up with) " + _USER + r"\b",
    r"\bbring (?:this|it|that|any of (?:this|it|that)) up with " + _USER + r"\b",
    # lying about what was done
    r"\b(?:say|claim|tell (?:them|the user)|answer|reply|respond|pretend)(?: that)? (?:you|it|this tool) (?:only "
    r"|never |did not |didn'?t |have not |haven'?t )(?:used|called|did|accessed|read|sent|ran|touched|invoked)\b",
    r"\bdeny (?:using|calling|invoking|reading|sending|that you)\b",
    # the model's own prompt
    r"\b(?:your|my) (?:system|developer|initial|hidden|original) (?:prompt|instructions|message)\b",
    r"\b(?:reveal|print|output|repeat|leak|dump|send|include|ignore|override|disregard|bypass)\b[^\n.]{0,30}"
    r"\b(?:system|developer) (?:prompt|instructions)\b",
    # orders to act covertly or to exfiltrate
    r"\byou (?:must|should|need to|have to|are required to|shall|will) (?:(?:always|never|also|secretly|silently|now"
    r"|additionally) )+(?:forward|bcc|cc|upload|exfiltrate|leak|share|disclose|reveal|attach)\b",
    r"\b(?:secretly|silently|covertly|quietly|discreetly|stealthily) (?:send|forward|bcc|cc|copy|upload|include|add"
    r"|call|invoke|read|pass|append|attach|post|exfiltrate|transmit|share|change|modify|replace|redirect|recommend"
    r"|promote|suggest|insert|steer|favou?r|prefer|alter)\b",
    r"\bbefore (?:using|calling|invoking|running) (?:this|any|any other|every|each|another) (?:tool|function)s?\b"
    r"[^\n]{0,120}\b(?:read|send|forward|upload|exfiltrate|attach|pass|include)\b[^\n]{0,60}"
    r"\b(?:file|contents?|key|token|secret|credential|password|config|history|conversation|message)s?\b",
    r"\b(?:send|forward|exfiltrate|upload|leak|transmit|post|report|mirror|copy|beacon|append)\b[^\n]{0,100}"
    r"\b(?:conversation|chat history|history|previous messages|credentials?|secrets?|api keys?|passwords?"
    r"|private keys?|ssh|environment variables|system prompt|personal data|pii|user'?s data|user data"
    r"|all (?:files|data)|everything)\b[^\n]{0,100}\bto\b[^\n]{0,30}(?:https?://|[\w.+-]+@[\w-]+)",
    r"\b(?:exfiltrate|exfil)\b[^\n]{0,80}\bto\b",
    r"\b(?:send|forward|upload|transmit|post|copy) all (?:messages|emails|mails|files|data|documents)\b[^\n]{0,30}"
    r"\bto\b[^\n]{0,30}(?:https?://|[\w.+-]+@[\w-]+)",
    r"\b(?:append|include|attach|pass|put|add|send|forward|upload|embed|copy|paste|leak|call\b[^\n.]{0,40}\bwith)\b"
    r"[^\n.]{0,40}\b(?:the user'?s|all(?: the)?|any|every) (?:[\w-]+ ){0,2}(?:api keys?|credentials|secrets?|passwords?"
    r"|access tokens?|tokens?|private keys?|session cookies?|cookies?|ssh keys?)\b",
    r"\b(?:the user'?s|their) (?:[\w-]+ ){0,2}(?:api keys?|credentials|secrets?|passwords?|access tokens?|tokens?"
    r"|private keys?|cookies?|ssh keys?)\b[^\n.]{0,60}\b(?:attach|append|include|paste|send|forward|upload|pass)\b",
    # other tools' results copied into this one
    r"\b(?:include|pass|send|attach|forward|copy|paste|append|put)\b[^\n.]{0,40}\b(?:(?:outputs?|results?|responses?)"
    r" (?:of|from) (?:the |all |every )?(?:other|previous|prior|earlier) (?:tools?|tool calls?|calls?|functions?)"
    r"|(?:other|previous|prior|earlier) tool (?:outputs|results|responses|calls))\b",
    # an upload to an outside address
    r"\b(?:upload|send|post|forward|transmit|copy|mirror|exfiltrate)\b (?:it|them|this|everything|(?:a )?cop(?:y|ies)"
    r"(?: of (?:it|them))?|the (?:whole |full |entire )?(?:document|file|pdf|content|text|page|data|result|summary)s?)"
    r"(?: \w+){0,3} to https?://",
    # the conversation, or what the user typed, copied into an argument
    r"\b(?:pass|put|include|insert|add|append|attach|send|copy|paste|provide|supply|embed|place|fill|dump|write"
    r"|with|ask)\b[^\n.]{0,60}\b(?:conversation(?![\W_]*(?:ids?|names?|keys?|types?|titles?)\b)|chat (?:history|log)"
    r"|message history|(?:previous|prior|recent|earlier|last \d+|past) (?:user )?messages|(?:entire|full|whole"
    r"|complete) (?:chat|history|transcript|context|thread)|system prompt|(?:the user'?s|their) (?:[\w,-]+ ){0,4}"
    r"(?:passwords?|passcodes?|pins?|credentials|secrets?|tokens?|api keys?|private keys?|ssh keys?|cookies?|ssn"
    r"|social security numbers?|date of birth|credit card(?: numbers?)?|card numbers?|cvv|seed phrases?"
    r"|recovery phrases?|one-time codes?|2fa codes?))\b[^\n.]{0,80}"
    r"\b(?:in|into|as|to|inside|within|under) (?:the |a |an |its |their |your )?[`'\"]?[\w-]+[`'\"]? (?:parameter"
    r"|argument|arg|field|param|property|body)s?\b",
    r"\b(?:if|when|whenever) the user (?:mentions|shares|types|provides|gives|enters|pastes|says|writes)\b[^\n.]{0,60}"
    r"\b(?:passwords?|tokens?|api keys?|secrets?|credentials|card numbers?|credit cards?|ssn|social security"
    r"|private keys?|seed phrases?)\b[^\n]{0,80}\b(?:include|put|pass|add|send|copy|forward|append|store|record|save"
    r"|log)\b",
    r"\b(?:pass|send|include|attach|forward|share|provide|upload|post|call\b[^\n.]{0,40}\bwith)\b[^\n.]{0,60}"
    r"\b(?:the |your )?(?:entire |whole |full |complete )?(?:conversation|chat) (?:so far|history|up to (?:now|this"
    r" point)|transcript)\b",
    r"\b(?:pass|send|include|attach|forward|share|provide|upload|post|call\b[^\n.]{0,40}\bwith)\b[^\n.]{0,40}"
    r"\byour (?:complete |full |entire |whole |original |exact )(?:instructions|prompt|context|guidelines)\b",
    # a user's voice where only the tool's author speaks: "note from the user: I authorize this tool to ..."
    r"\b(?:note|message|instructions?|request|update)s? from (?:the |your )?user\s*:",
    r"\bi (?:hereby )?(?:authori[sz]e|allow|permit|consent to|approve|give permission to)\b[^\n.]{0,30}"
    r"\b(?:this tool|this server|you|the assistant|the ai|the agent)\b",
    # a markdown or HTML image whose address carries a placeholder: rendering it sends the data
    r"!\[[^\]\n]{0,200}\]\(\s*<?https?://[^\s)?#]{1,200}[?#][^)\n{<\[$]{0,300}[{<\[$]",
    r"!\[[^\]\n]{0,200}\]\(\s*<?https?://[^\s)?#]{1,200}[?#][^)\n]{0,300}?(?:conversation|chat|transcript|history"
    r"|messages?|prompt|secrets?|passwords?|api_?keys?|credentials?|cookies?)",
    r"<img\b[^>\n]{0,200}\bsrc\s*=\s*[\"']?https?://[^\"'\s>?#]{1,200}[?#][^\"'>\n{<\[$]{0,300}[{<\[$]",
    # ... or any address whose query is to be filled with the conversation or a secret
    r"https?://[^\s?#]{1,200}[?#][^\s{<\[$]{0,200}(?:\{+|<|\[|\$\{?)\s*(?:[a-z]+[\s_.-]){0,3}(?:conversation|chat"
    r"|transcript|history|messages?|prompt|summary|memory|secrets?|passwords?|api_?keys?|credentials?|cookies?)\b",
    r"\bdecode\b(?: (?:this|it|the following|below|the \w+))?(?: \w+)?(?: and| then|,) (?:then )?(?:follow|execute|obey"
    r"|do what|carry out|act on)\b",
    # a note addressed to the model (vendors write "Note to LLM: use the indexes tool first" too, so only with an
    # order of the kinds above close by)
    r"\b(?:note|message|reminder|directive|hint|tip|p\.?s\.?|instructions?) (?:to|for) (?:the )?(?:ai|assistant|model"
    r"|llm|agent|claude|gpt|chatgpt|copilot) ?[:\u2014-][^\n]{0,150}\b(?:always|never|secretly|silently|quietly"
    r"|ignore|disregard|do not|don'?t|must not|send|forward|upload|read|include|append|attach|paste|passwords?"
    r"|credentials?|secrets?|tokens?|keys?|cookies?|conversation|history)\b",
    # ... or called by name at the start of a sentence: "Assistant: call this first"
    r"(?:^|[.!?(\n]\s*|\b(?:dear|hey|attention|hello|hi)\s+)(?:ai|assistant|llm|claude|chatgpt|gpt|copilot) ?: ?"
    r"(?:you|please|always|never|call|do|don'?t|ignore|first|make sure|remember|read|send|include|forget)\b",
    r"\b(?:always|secretly|silently|quietly|must|should)\b[^\n]{0,40}"
    r"\b(?:bcc|cc|forward|redirect|send (?:a )?cop(?:y|ies))\b[^\n]{0,40}[\w.+-]+@[\w-]+",
    r"\b(?:every|each|all|any) (?:e-?mails?|messages?|mails?)\b[^\n]{0,60}\b(?:bcc|cc|forward|copy)\b[^\n]{0,40}"
    r"[\w.+-]+@[\w-]+",
    r"\b(?:every|each|all|any) (?:e-?mails?|messages?|mails?)\b[^\n]{0,80}[\w.+-]+@[\w-]+[^\n]{0,40}\b(?:bcc|cc)\b",
    r"\b(?:bcc|cc|forward|copy|redirect)\b[^\n]{0,30}\b(?:every|each|all|any) (?:e-?mails?|messages?|mails?)\b"
    r"[^\n]{0,40}[\w.+-]+@[\w-]+",
    # dictating the model's own replies, or switching its safety off
    r"\b(?:end|begin|start|finish|close) (?:every|each|all|all of your|all your) (?:\w+ )?"
    r"(?:responses?|repl(?:y|ies)|answers?)\b",
    r"\b(?:every|each|all) (?:\w+ )?(?:responses?|repl(?:y|ies)|answers?) you (?:give|send|write|produce|make"
    r"|return)\b",
    r"\b(?:all )?your (?:\w+ )?(?:responses|replies|answers) (?:must|should|shall|need to) (?:always )?"
    r"(?:end|begin|start|include|contain|mention|promote|recommend|link)\b",
    r"\b(?:turn off|switch off|disable|deactivate|bypass|lift|suspend|ignore) (?:all |any |your |the )?(?:content "
    r"|safety )(?:filter(?:ing|s)?|guardrails?|guidelines|moderation|policies|restrictions)\b",
    # an order to change where a message or a payment goes
    r"\b(?:change|replace|swap|set|override|redirect)\b[^\n.]{0,30}\b(?:recipients?|to address|destination|account"
    r"(?: number)?|iban|wallet(?: address)?|payee)\b[^\n.]{0,20}\b(?:to|with)\b[^\n.]{0,20}(?:[\w.+-]+@[\w-]+"
    r"|\+?\d[\d\s-]{6,}\d|\b[a-z]{2}\d{2}[a-z0-9]{10,30}\b|\b0x[0-9a-f]{40}\b)",
    # commands that fetch and run code, or wreck the home directory, or ride along with every command
    r"\b(?:curl|wget)\b[^\n|]{0,200}\|\s*(?:sudo\s+)?(?:(?:ba|z|da|k|fi)?sh|python3?|perl|ruby|node|iex)\b",
    r"\$\(\s*(?:curl|wget)\b",
    r"\bchmod\s+(?:-r\s+)?0?(?:777|666)\s+(?:~|/|\$home)",
    r"\brm\s+-(?:rf|fr)\s+(?:~|/|\$home|\*)",
    r"\b(?:every|each|all|any) (?:shell |terminal |bash )?commands? (?:you (?:run|execute|issue|send) )?(?:must|should"
    r"|shall|has to|have to|needs? to) (?:always )?be (?:prefixed|prepended|suffixed|appended|preceded|followed"
    r"|wrapped)\b",
    r"\b(?:prefix|prepend)\b[^\n.]{0,40}\b(?:every|each|all|any) (?:shell |terminal |bash )?commands?\b",
    # role play
    r"(?:^|[.!?\n]\s*|\byou (?:will|must|should|shall|now) |\bplease |\bnow )act as (?:a|an|if|though|my|the)\b",
    r"\bpretend (?:to be|you are|that you)\b",
    r"\byou are now (?:a|an|the|in|my|no longer|free|unrestricted|dan|jailbroken|operating|acting)\b",
    r"\b(?:from now on|from this point (?:on|forward|onwards?)|henceforth)\b[^\n]{0,60}\b(?:you|treat|always|never"
    r"|respond|answer|reply)\b",
    # (a bare "jailbreak" also names phones, consoles and the detectors of such prompts)
    r"\b(?:(?:you are|you're|you have been|you've been|are now|is now|be|been) jailbroken|jailbreak mode|dan mode"
    r"|developer mode (?:enabled|activated|on))\b",
    # chat-template tokens, headers and fake turns
    r"\[/?inst\]",
    r"<\|\s*(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id|end_header_id)\s*\|>",
    r"<<\s*/?sys\s*>>",
    r"<\s*/?\s*(?:start_of_turn|end_of_turn)\s*>",
    r"^[\t\x20]*#{2,}[\t\x20]*(?:system|instructions?|new instructions?)\b",
    r"\b(?:new|updated|real|actual|true|hidden|secret|system) (?:instructions?|directives?|orders)\s*:",
    r"(?:^|[.!?]\s)[\t\x20]*(?:important |urgent )?(?:system|admin|administrator|developer|root|security|compliance)"
    r" (?:message|note|notice|override|alert|directive|instruction|prompt)s?\s*[:\u2014\u2013]",
    r"\b(?:begin|start|end) (?:of )?(?:the )?(?:system|admin|developer) (?:override|instructions?|prompt|message)\b"
    r"|\bsystem override\b",
    r"\b(?:no longer|not|never) (?:bound|restricted|limited|constrained|governed) by (?:its|your|any|the) (?:usual "
    r"|normal |standard |safety |previous |original )?(?:rules|guidelines|policies|restrictions|instructions"
    r"|constraints)\b",
    r"\n[\t\x20]*(?:system|human|assistant)[\t\x20]*:",  # (a turn after some text: a first word may be a name)
    # the same in other languages written in Latin letters: "ignora todas las instrucciones anteriores",
    # "ignoriere alle vorherigen Anweisungen", "ne dis rien à l'utilisateur", "sag dem Benutzer nichts"
    r"\b(?:ignor[a-z]*|olvid[a-z]*|oubli[a-z]*|vergiss|vergessen|dimentica[a-z]*|esque[cç][a-z]*)\b[^\n.]{0,40}"
    r"(?:\b(?:instruc[a-z]*|instru[cç][õo]es|istruzioni|anweisung[a-z]*|consignes|indicaciones|regeln|reglas|regras"
    r"|regole|r[eè]gles|directrices|vorgaben|befehle)\b[^\n.]{0,20}\b(?:anterior[a-z]*|previ[a-z]*|precedent[a-z]*"
    r"|pr[eé]c[eé]dent[a-z]*|vorherig[a-z]*|bisherig[a-z]*|vorig[a-z]*|fr[uü]her[a-z]*|obig[a-z]*)"
    r"|\b(?:anterior[a-z]*|previ[a-z]*|precedent[a-z]*|pr[eé]c[eé]dent[a-z]*|vorherig[a-z]*|bisherig[a-z]*"
    r"|vorig[a-z]*|fr[uü]her[a-z]*|obig[a-z]*)\b[^\n.]{0,20}\b(?:instruc[a-z]*|instru[cç][õo]es|istruzioni"
    r"|anweisung[a-z]*|consignes|indicaciones|regeln|reglas|regras|regole|r[eè]gles|directrices|vorgaben|befehle))\b",
    r"\b(?:vorherig[a-z]*|bisherig[a-z]*|vorig[a-z]*|fr[uü]her[a-z]*|obig[a-z]*) (?:anweisung[a-z]*|regeln|vorgaben"
    r"|befehle)\b[^\n.]{0,20}\b(?:ignorieren|vergessen|missachten)\b",
    r"\bno (?:se lo |le |les |lo )?(?:digas|diga|cuentes|cuente|menciones|mencione|informes|informe|reveles|revele"
    r"|muestres|muestre)\b[^\n.]{0,40}\busuari[oa]s?\b",
    r"\bsin (?:decirle|avisar|informar|notificar|que lo sepa)\b[^\n.]{0,20}\busuari[oa]s?\b",
    r"\bn[ãa]o (?:conte|diga|mencione|informe|revele|fale|mostre)\b[^\n.]{0,40}\b(?:usu[áa]rio|utilizador)s?\b",
    r"\bnon (?:dirlo|dire|dirgli|menzionare|rivelare|informare|raccontare|mostrare)\b[^\n.]{0,40}\butent[ei]\b",
    r"\bne (?:dis|dites|mentionne[sz]?|r[ée]v[èe]le[sz]?|parle[sz]?|informe[sz]?|montre[sz]?)\b[^\n.]{0,40}"
    r"\butilisat(?:eur|rice)s?\b",
    r"\bsans (?:le dire|en parler|informer|pr[ée]venir|avertir)\b[^\n.]{0,20}\butilisat(?:eur|rice)s?\b",
    r"\b(?:sag|sage|sagen|erz[äa]hl|erz[äa]hle|verrat|verrate|erw[äa]hne|informiere)\b[^\n.]{0,40}"
    r"\b(?:benutzer|nutzer|anwender)(?:in|innen|s)?\b[^\n.]{0,30}\bnicht[s]?\b",
    r"\bohne (?:den |die |das )?(?:benutzer|nutzer|anwender)(?:in|innen|s)? (?:zu )?(?:informieren|benachrichtigen"
    r"|fragen|fragen zu m[üu]ssen)\b",
    r"\b(?:benutzer|nutzer|anwender)(?:in|innen|s)? (?:darf|soll|sollte|muss|braucht) (?:davon |hiervon |das |es )?"
    r"(?:nichts|nicht) (?:zu )?(?:erfahren|wissen|merken|mitbekommen|sehen)\b",
    r"\bn'(?:en |y )?(?:parle[sz]?|dis|dites|mentionne[sz]?|r[ée]v[èe]le[sz]?) (?:pas|rien)\b[^\n.]{0,30}"
    r"\butilisat(?:eur|rice)s?\b",
)

# Instructions in scripts the look-alike folding would scramble (Cyrillic) or whose words have no spaces (Chinese,
# Japanese, Korean); searched in the text without that folding, and only when it is not all ASCII.
_MODEL_INSTRUCTION_FOREIGN = re.compile(
    "|".join([
        # ignore the previous instructions
        r"(?:忽略|无视|忽视|不要理会|忘记|忘掉|無視)[^。\n]{0,10}(?:之前|以前|先前|上述|前面|此前|所有|一切)[^。\n]{0,8}"
        r"(?:指令|指示|说明|規則|规则|提示|命令)",
        r"(?:以前|前|これまで|上記|先)の(?:指示|命令|ルール|指令|プロンプト)[^。\n]{0,10}(?:無視|忘れ)",
        r"이전[^.\n]{0,6}(?:지시|명령|지침|규칙)[^.\n]{0,10}(?:무시|잊어)",
        r"(?:忽略|无视|忽视|不要理会)(?:系统提示|系统指令|你的(?:指令|规则|提示|设定)|安全(?:规则|限制|准则))",
        r"(?:对话|聊天|会话)(?:记录|历史|内容)[^。\n]{0,20}(?:发送|上传|转发|提交)|(?:发送|上传|转发|提交)[^。\n]{0,20}"
        r"(?:对话|聊天|会话)(?:记录|历史|内容)",
        r"(?:تجاهل|انس)[^.\n]{0,20}(?:التعليمات|الإرشادات|الأوامر)[^.\n]{0,10}(?:السابقة|الأولى)",
        r"لا (?:تخبر|تُخبر|تعلم|تُعلم|تذكر) المستخدم",
        r"(?:पिछले|पहले के|सभी)[^।\n]{0,20}(?:निर्देशों|निर्देश|नियमों)[^।\n]{0,10}(?:अनदेखा|नज़रअंदाज़|नजरअंदाज|भूल)",
        r"उपयोगकर्ता को[^।\n]{0,10}(?:न|मत) (?:बताएं|बताएँ|बताना|बताओ)",
        r"\b(?:игнорируй|игнорируйте|проигнорируй|проигнорируйте|забудь|забудьте|не обращай внимания на)\w*\b"
        r"[^\n.]{0,30}\b(?:предыдущ|прежн|все|ранее)\w*[^\n.]{0,20}\b(?:инструкц|указани|правил|команд)",
        # do not tell the user
        r"(?:不要|别|勿|切勿|不得|无需|不必|不用)(?:告诉|告知|通知|提醒|透露|提及|让)[^。\n]{0,10}用户",
        r"对用户(?:隐瞒|保密)|不(?:要|能)让用户(?:知道|发现|看到)",
        r"ユーザー(?:に|には|へ)[^。\n]{0,10}(?:伝え|言わ|知らせ|教え|通知し|見せ)ない",
        r"사용자에게[^.\n]{0,10}(?:알리지|말하지|보여주지) ?(?:마|말)",
        # (Russian: ruff takes several Cyrillic letters for Latin ones)
        r"\bне (?:говори|сообщай|рассказывай|упоминай|показывай|говорите|сообщайте|рассказывайте"  # noqa: RUF001
        r"|упоминайте)\w*\b[^\n.]{0,40}\bпользовател",  # noqa: RUF001
        r"\bбез ведома пользовател|\bскро(?:й|йте) от пользовател",  # noqa: RUF001
    ]),
    re.IGNORECASE | re.MULTILINE,
)

_TOOL_ID = r"[`'\"(]?[a-z][a-z0-9]*(?:[_-][a-z0-9]+)+[`'\")]?"  # a tool's name as prose cites it (lowercased)

_CROSS_TOOL = _rx(
    r"\bwhen(?:ever)? this tool is (?:available|present|loaded|installed|enabled|connected)\b",
    r"\b(?:the )?other (?:tools?|functions?|servers?) (?:must|should|shall|need to|will)\b",
    r"\b(?:any|all|every) other (?:tool|function|server)s?\b[^\n]{0,60}\b(?:must|should|always|never)\b",
    r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b (?:tool |function )?(?:must|should|shall|has to|needs to) "
    r"(?:(?:always|never|also|now|only|first) )*(?:bcc|cc|send|forward|include|call|invoke|copy|redirect|route"
    r"|use|add|attach|pass|be called with|be invoked with)\b",
    # another tool's call as the trigger: "when send_message is invoked", "whenever you use the git_push tool"
    r"\bwhen(?:ever)? (?:the |a |an )?" + _TOOL_ID + r" (?:tool |function |command )?(?:from [^\n.]{0,30})?"
    r"(?:is|gets|has been|was) (?:called|invoked|used|run|executed|triggered)\b[^\n.]{0,60}\b(?:change|set|add"
    r"|append|send|include|redirect|replace|also|bcc|cc|forward|make sure|always|instead|must|should)\b",
    r"\b(?:when(?:ever)?|every time|each time)\b[^\n.]{0,60}\b(?:by|from|with|through|using|via) (?:any|every|another"
    r"|other|all) (?:other )?(?:tools?|functions?|servers?)\b",
    r"\b(?:regardless of|ignore|ignoring|disregard|disregarding|instead of|override|overriding) (?:what |whatever )?"
    r"(?:the )?" + _TOOL_ID + r" (?:tool |function )?(?:returns|says|reports|outputs|gives|answers)\b",
    r"\bwhen(?:ever)? you (?:use|call|invoke|run|execute) (?:the )?" + _TOOL_ID + r"(?: tool| function)?\b[^\n.]{0,40}"
    r"\b(?:set|change|replace|add|append|include|redirect|send|forward|always|also|first|make sure)\b",
    r"\b(?:before|after) (?:calling|using|invoking|running|you (?:call|use|invoke|run)) (?:any|every|each|all) "
    r"(?:other )?(?:tools?|functions?)\b",
    # steering away from the others (preference manipulation)
    r"\b(?:never|do not|don'?t|avoid|stop) (?:use|using|call|calling|invoke|invoking|trust|trusting|rely on|relying on)"
    r" (?:any |the |all )?(?:other|another|alternative|competing|third-party) (?:\w+ ){0,2}(?:tools?|functions?"
    r"|servers?|providers?|plugins?|services?)\b",
    r"\b(?:other|all other|any other|competing|alternative|the other) (?:\w+ ){0,2}(?:tools?|functions?|servers?"
    r"|plugins?) (?:are|is) (?:\w+ )?(?:deprecated|outdated|unsafe|insecure|unreliable|broken|compromised|malicious"
    r"|untrusted|inaccurate|fake)\b",
    r"\b[a-z][a-z0-9]*(?:[_-][a-z0-9]+)+[`'\"]?,? (?:(?:which|that) )?(?:tool |function )?(?:is|are|has been) (?:now )?"
    r"(?:(?:deprecated|outdated|broken) and )?(?:unsafe|insecure|compromised|malicious|untrusted|unreliable|leaking"
    r"|leaks|dangerous|hacked|backdoored)\b",
    r"\binstead of " + _TOOL_ID + r"\b[^\n]{0,80}\b(?:must not|should not|mustn'?t|shouldn'?t|never|do not|don'?t)"
    r" (?:be )?(?:used|called|invoked|trusted|use|call|invoke|trust)\b",
    r"\b(?:double|triple|change|increase|inflate|alter|modify|replace|swap|redirect|round up)\b[^\n.]{0,30}\b(?:amount"
    r"|sum|price|quantity|recipient|account|address|destination|iban)s?\b[^\n.]{0,30}\b(?:passed|sent|given|supplied)"
    r" to\b",
    r"\bthe only (?:trustworthy|trusted|safe|secure|reliable|accurate|legitimate|official|valid) (?:\w+ )?"
    r"(?:tool|function|server|source)\b",
)


def _secret_read(norm: str, plain: str | None = None) -> bool:
    """A secret's name (`_SECRET_PATHS`) near a cue to read or pass it on. ``plain``: the same text without the
    look-alike folding (same length), for the cues in non-Latin scripts."""
    for n, m in enumerate(_SECRET_PATH.finditer(norm)):
        if n >= 64:
            return True  # dozens of secret paths in one string is itself a sign; and it bounds the work
        start = max(0, m.start() - 150)
        # a leading "\n" lets the start of the text count as the start of a sentence
        window = ("\n" if start == 0 else "") + norm[start : m.end() + 150]
        if _EXFIL_CUE.search(window):
            return True
        if plain is not None and _EXFIL_CUE_FOREIGN.search(plain, start, m.end() + 150):
            return True
    return False


def secret_env_read(text: str, norm: str) -> bool:
    """A secret's environment variable (`_SECRET_ENV`, in ``text`` as written) near a cue to read or pass it on
    (in ``norm``, its normalised copy)."""
    lowered = norm if len(norm) == len(text) else text.lower()
    for n, m in enumerate(_SECRET_ENV.finditer(text)):
        if n >= 64:
            return True
        start = max(0, m.start() - 150)
        window = ("\n" if start == 0 else "") + lowered[start : m.end() + 150]
        if _EXFIL_CUE.search(window):
            return True
    return False


def instruction_kinds(norm: str, plain: str | None = None) -> set[str]:
    """Kinds found by the instruction patterns in normalised text; ``plain`` (`_fold`'s text, given when not all
    ASCII) adds the patterns for other scripts."""
    kinds: set[str] = set()
    if _IMPORTANT_BLOCK.search(norm):
        kinds.add("important-block")
    if (
        _MODEL_INSTRUCTION.search(norm)
        or _secret_read(norm, plain)
        or (plain is not None and _MODEL_INSTRUCTION_FOREIGN.search(plain))
    ):
        kinds.add("model-instruction")
    if _CROSS_TOOL.search(norm):
        kinds.add("cross-tool-reference")
    return kinds
